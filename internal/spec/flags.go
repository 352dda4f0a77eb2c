package spec

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Feature flags, in a subset of flagd's flag shape: a flag has one type of
// variants, a default variant, a state, and optionally a fractional split
// (targeting: {fractional: [[variant, percent], …]}) bucketed on the flag
// key and the targeting key. The top-level flags: block defines them; an
// environment's flags: block may change state, defaultVariant and
// targeting there.

// Flag is one flag as belay.yaml defines it.
type Flag struct {
	Kind           FlagKind       `yaml:"kind" json:"kind,omitempty"`
	State          FlagState      `yaml:"state" json:"state,omitempty"`
	Variants       FlagVariants   `yaml:"variants" json:"variants" belay:"required"`
	DefaultVariant string         `yaml:"defaultVariant" json:"defaultVariant" belay:"required"`
	Targeting      *FlagTargeting `yaml:"targeting" json:"targeting,omitempty"`
	Description    string         `yaml:"description" json:"description,omitempty"`
}

// FlagOverride is what an environment changes of a flag.
type FlagOverride struct {
	State          FlagState      `yaml:"state" json:"state,omitempty"`
	DefaultVariant string         `yaml:"defaultVariant" json:"defaultVariant,omitempty"`
	Targeting      *FlagTargeting `yaml:"targeting" json:"targeting,omitempty"`
}

// FlagTargeting is the targeting belay evaluates: a fractional split.
type FlagTargeting struct {
	Fractional Fractional `yaml:"fractional" json:"fractional" belay:"required"`
}

// FlagKind is what a flag is for (metadata; every kind evaluates alike).
type FlagKind string

// Flag kinds.
const (
	FlagKillSwitch FlagKind = "kill_switch" // off switches a risky path off
	FlagRelease    FlagKind = "release"     // a feature being released
	FlagExperiment FlagKind = "experiment"  // a split to compare
)

func (FlagKind) values() []string { return []string{"kill_switch", "release", "experiment"} }

// FlagState is ENABLED (evaluated) or DISABLED (the application's code
// default applies).
type FlagState string

// Flag states.
const (
	FlagEnabled  FlagState = "ENABLED"
	FlagDisabled FlagState = "DISABLED"
)

func (FlagState) values() []string { return []string{"ENABLED", "DISABLED"} }

// FlagType is the one type of a flag's variants.
type FlagType string

// Flag types, as OpenFeature names them.
const (
	FlagBoolean FlagType = "boolean"
	FlagString  FlagType = "string"
	FlagInteger FlagType = "integer"
	FlagFloat   FlagType = "float"
	FlagObject  FlagType = "object"
)

// FlagVariants maps variant names to values: booleans, strings, numbers
// or objects, all of one type.
type FlagVariants map[string]any

// Type is the variants' type ("" when they mix types or there are none).
func (vs FlagVariants) Type() FlagType {
	var t FlagType
	for _, v := range vs {
		vt := valueType(v)
		if t != "" && vt != t {
			if (t == FlagInteger || t == FlagFloat) && (vt == FlagInteger || vt == FlagFloat) {
				t = FlagFloat
				continue
			}
			return ""
		}
		t = vt
	}
	return t
}

func valueType(v any) FlagType {
	switch x := v.(type) {
	case bool:
		return FlagBoolean
	case string:
		return FlagString
	case int, int64:
		return FlagInteger
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) {
			return FlagInteger
		}
		return FlagFloat
	case map[string]any:
		return FlagObject
	}
	return ""
}

// Names are the variants' names, sorted.
func (vs FlagVariants) Names() []string {
	out := make([]string, 0, len(vs))
	for k := range vs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (vs *FlagVariants) decodeNode(d *decoder, n *yaml.Node, path string) {
	out := FlagVariants{}
	d.pairs(n, path, "a mapping of variant names to values", func(k, val *yaml.Node) {
		p := path + "." + k.Value
		d.pos[p] = posOf(val)
		var v any
		if err := val.Decode(&v); err != nil {
			d.errorf(val, p, "variant %s: %v", k.Value, err)
			return
		}
		switch v.(type) {
		case bool, string, int, float64, map[string]any:
			out[k.Value] = v
			return
		}
		d.errorf(val, p, "variant %s is %s: a variant is a boolean, a string, a number or an object", k.Value, describe(val))
	})
	*vs = out
}

// Split is one part of a fractional split: a variant and its percent.
type Split struct {
	Variant string  `json:"variant"`
	Percent float64 `json:"percent"`
}

// Fractional is flagd's fractional: [[variant, percent], …], percents
// adding up to 100.
type Fractional []Split

func (f *Fractional) decodeNode(d *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		d.errorf(n, path, "expected a list of [variant, percent] pairs, e.g. [[on, 10], [off, 90]], got %s", describe(n))
		return
	}
	out := Fractional{}
	for i, c := range n.Content {
		p := index(path, i)
		d.pos[p] = posOf(c)
		if c = d.resolve(c); c == nil {
			return
		}
		if c.Kind != yaml.SequenceNode || len(c.Content) != 2 || c.Content[0].Kind != yaml.ScalarNode || c.Content[1].Kind != yaml.ScalarNode {
			d.errorf(c, p, "expected [variant, percent], e.g. [on, 10], got %s", describe(c))
			continue
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(c.Content[1].Value, "%"), 64)
		if err != nil || pct < 0 || pct > 100 {
			d.errorf(c.Content[1], p, "percent %q is not a number from 0 to 100", c.Content[1].Value)
			continue
		}
		out = append(out, Split{Variant: c.Content[0].Value, Percent: pct})
	}
	*f = out
}

func (*FlagVariants) jsonSchema() map[string]any {
	return map[string]any{"type": "object", "minProperties": 1,
		"additionalProperties": map[string]any{"type": []any{"boolean", "string", "number", "object"}}}
}

func (*Fractional) jsonSchema() map[string]any {
	pair := map[string]any{"type": "array", "minItems": 2, "maxItems": 2,
		"prefixItems": []any{map[string]any{"type": "string"}, map[string]any{"type": "number", "minimum": 0, "maximum": 100}}}
	return map[string]any{"type": "array", "minItems": 1, "items": pair,
		"description": "[[variant, percent], …], percents adding up to 100, bucketed on the flag key and the targeting key"}
}

// Flag is the flag key as env sees it: the project's definition with the
// environment's override applied; nil when the project has no such flag.
func (p *Project) Flag(key, env string) *Flag {
	f := p.Flags[key]
	if f == nil {
		return nil
	}
	out := *f
	if e := p.Environment(env); e != nil {
		if o := e.Flags[key]; o != nil {
			if o.State != "" {
				out.State = o.State
			}
			if o.DefaultVariant != "" {
				out.DefaultVariant = o.DefaultVariant
			}
			if o.Targeting != nil {
				out.Targeting = o.Targeting
			}
		}
	}
	if out.State == "" {
		out.State = FlagEnabled
	}
	return &out
}

// FlagKeys are the project's flags, sorted.
func (p *Project) FlagKeys() []string { return sortedKeys(p.Flags) }

// checkFlags validates the flags: key names, one type of variants, a
// default and split variants that exist, splits adding up to 100, overrides
// of flags that exist, and rollback actions naming defined flags.
func (d *decoder) checkFlags(p *Project) {
	for _, key := range sortedKeys(p.Flags) {
		path := "flags." + key
		if !flagRE.MatchString(key) {
			d.errAt(path, "flag key %q must be letters, digits, '_', '-' or '.'", key)
		}
		f := p.Flags[key]
		if f == nil {
			d.errAt(path, "flag %s is empty: give variants and defaultVariant", key)
			continue
		}
		if len(f.Variants) > 0 && f.Variants.Type() == "" {
			var types []string
			for _, name := range f.Variants.Names() {
				types = append(types, name+": "+string(valueType(f.Variants[name])))
			}
			d.errAt(path+".variants", "variants of flag %s mix types (%s): a flag's variants are all of one type", key, strings.Join(types, ", "))
		}
		d.checkFlagVariants(f, path, key, f.DefaultVariant, f.Targeting)
	}
	for _, e := range p.Environments {
		if e == nil {
			continue
		}
		for _, key := range sortedKeys(e.Flags) {
			path := "environments[" + strconv.Itoa(slices.Index(p.Environments, e)) + "].flags." + key
			f := p.Flags[key]
			if f == nil {
				d.errAt(path, "flag %q is not defined in the flags: block%s", key, suggest(key, p.FlagKeys()))
				continue
			}
			if o := e.Flags[key]; o != nil {
				d.checkFlagVariants(f, path, key, o.DefaultVariant, o.Targeting)
			}
		}
	}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		for i, a := range s.RollbackAction {
			if (a.Verb == ActionDisableFlag || a.Verb == ActionEnableFlag) && p.Flags[a.Arg] == nil {
				path := "services." + name + ".rollback_action"
				if d.set(index(path, i)) {
					path = index(path, i)
				}
				d.errAt(path, "%s: flag %q is not defined in the flags: block%s", a, a.Arg, suggest(a.Arg, p.FlagKeys()))
			}
		}
	}
}

func (d *decoder) checkFlagVariants(f *Flag, path, key, def string, t *FlagTargeting) {
	if def != "" && len(f.Variants) > 0 {
		if _, ok := f.Variants[def]; !ok {
			d.errAt(path+".defaultVariant", "defaultVariant %q of flag %s is not one of its variants: %s", def, key, strings.Join(f.Variants.Names(), ", "))
		}
	}
	if t == nil {
		return
	}
	sum := 0.0
	for i, s := range t.Fractional {
		if _, ok := f.Variants[s.Variant]; !ok && len(f.Variants) > 0 {
			d.errAt(index(path+".targeting.fractional", i), "variant %q of flag %s's split is not one of its variants: %s", s.Variant, key, strings.Join(f.Variants.Names(), ", "))
		}
		sum += s.Percent
	}
	if len(t.Fractional) > 0 && math.Abs(sum-100) > 1e-9 {
		d.errAt(path+".targeting.fractional", "the split of flag %s adds up to %v%%, not 100%%", key, sum)
	}
}
