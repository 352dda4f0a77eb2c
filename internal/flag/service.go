package flag

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// Store is what the flag service needs of belay's store: the overrides,
// each change written with its audit entry and events.
type Store interface {
	SetFlagOverride(ctx context.Context, o store.FlagOverride, audit store.AuditEntry, evs []event.Event) error
	ClearFlagOverride(ctx context.Context, env, flag string, audit store.AuditEntry, evs []event.Event) error
	FlagOverrides(ctx context.Context, env string) ([]store.FlagOverride, error)
}

var _ Store = store.Store(nil)

// Errors of a change, which the server maps to 404 and 422.
var (
	ErrUndefined = errors.New("not found")
	ErrBadChange = errors.New("bad flag change")
)

// Service reads the flags of an environment as they are served (belay.yaml
// with the persisted overrides on top) and changes the overrides, each
// change audited.
type Service struct {
	Store Store
	Now   func() time.Time
}

// Resolved is one flag in one environment.
type Resolved struct {
	Key      string
	File     spec.Flag // belay.yaml's, with the environment's flags: block
	Flag     spec.Flag // as served: File with Override applied
	Override *Override // nil: none
	// Problem says why the override does not apply as stored ("": it does).
	Problem string
}

// Setting is what a flag serves, in short: its state, and its variant
// unless a fractional split chooses one.
type Setting struct {
	State   spec.FlagState `json:"state"`
	Variant string         `json:"variant,omitempty"`
	Split   bool           `json:"split,omitempty"`
}

// SettingOf is f's setting.
func SettingOf(f spec.Flag) Setting {
	if f.Targeting != nil && len(f.Targeting.Fractional) > 0 {
		return Setting{State: f.State, Split: true}
	}
	return Setting{State: f.State, Variant: f.DefaultVariant}
}

// OverrideOf is a stored override.
func OverrideOf(o store.FlagOverride) Override {
	return Override{Environment: o.Environment, Flag: o.Flag, State: spec.FlagState(o.State), Variant: o.Variant,
		Actor: o.Actor, Reason: o.Reason, At: o.At}
}

func (o Override) stored() store.FlagOverride {
	return store.FlagOverride{Environment: o.Environment, Flag: o.Flag, State: string(o.State), Variant: o.Variant,
		Actor: o.Actor, Reason: o.Reason, At: o.At}
}

// Resolve is env's flags with env's overrides on top (others are skipped),
// and the overrides of flags belay.yaml no longer defines, which serve
// nothing and stay until reset.
func Resolve(p *spec.Project, env string, overrides []Override) (map[string]Resolved, []Override) {
	byKey := map[string]*Override{}
	var orphans []Override
	for _, o := range overrides {
		switch {
		case o.Environment != env:
		case p.Flags[o.Flag] == nil:
			orphans = append(orphans, o)
		default:
			byKey[o.Flag] = &o
		}
	}
	out := make(map[string]Resolved, len(p.Flags))
	for _, key := range p.FlagKeys() {
		out[key] = resolve(key, *p.Flag(key, env), byKey[key])
	}
	return out, orphans
}

// resolve applies o to file. An override pinning a variant belay.yaml no
// longer has cannot apply; serving the file's variant instead could turn
// on what the override turned off, so the flag is served DISABLED (the
// application's code default, its safe path) until someone decides.
func resolve(key string, file spec.Flag, o *Override) Resolved {
	r := Resolved{Key: key, File: file, Flag: Apply(file, o), Override: o}
	if o == nil || o.Variant == "" {
		return r
	}
	if _, ok := file.Variants[o.Variant]; !ok {
		r.Flag = file
		r.Flag.State = spec.FlagDisabled
		r.Problem = fmt.Sprintf("the override pins variant %q, which belay.yaml no longer defines (variants: %s): "+
			"the flag is served DISABLED until the override is set again (belay flags set) or reset (belay flags reset)",
			o.Variant, strings.Join(file.Variants.Names(), ", "))
	}
	return r
}

// Difference is where an override and belay.yaml disagree.
type Difference struct {
	Field    string `json:"field"` // state or variant
	File     string `json:"file"`
	Override string `json:"override"`
}

// Differences lists where r's override and belay.yaml disagree.
func (r Resolved) Differences() []Difference {
	o := r.Override
	if o == nil {
		return nil
	}
	var out []Difference
	if o.State != "" && o.State != r.File.State {
		out = append(out, Difference{Field: "state", File: string(r.File.State), Override: string(o.State)})
	}
	if file := SettingOf(r.File); o.Variant != "" && (file.Split || o.Variant != file.Variant) {
		fv := file.Variant
		if file.Split {
			fv = "a split (" + splitString(r.File.Targeting.Fractional) + ")"
		}
		out = append(out, Difference{Field: "variant", File: fv, Override: o.Variant})
	}
	return out
}

func splitString(f spec.Fractional) string {
	parts := make([]string, len(f))
	for i, s := range f {
		parts[i] = fmt.Sprintf("%s %v%%", s.Variant, s.Percent)
	}
	return strings.Join(parts, ", ")
}

// Effective is env's flags as they are served: belay.yaml's with the
// overrides applied.
func (s *Service) Effective(ctx context.Context, p *spec.Project, env string) (map[string]Resolved, error) {
	m, _, err := s.View(ctx, p, env)
	return m, err
}

// View is Effective and the overrides of flags belay.yaml no longer defines.
func (s *Service) View(ctx context.Context, p *spec.Project, env string) (map[string]Resolved, []Override, error) {
	if p.Environment(env) == nil {
		return nil, nil, fmt.Errorf("%w: environment %q is not defined in belay.yaml%s; defined: %s",
			ErrUndefined, env, spec.Suggest(env, p.EnvironmentNames()), strings.Join(p.EnvironmentNames(), ", "))
	}
	stored, err := s.Store.FlagOverrides(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	os := make([]Override, len(stored))
	for i, o := range stored {
		os[i] = OverrideOf(o)
	}
	m, orphans := Resolve(p, env, os)
	return m, orphans, nil
}
