package spec

import (
	"path"
	"slices"
	"strconv"
	"strings"
)

// Parity holds what `belay parity` allows to differ between environments
// (docs/parity.md): every other shape difference fails it.
type Parity struct {
	Exceptions []*ParityException `yaml:"exceptions" json:"exceptions,omitempty"`
}

// ParityException excuses one difference, with a reason a reviewer reads.
type ParityException struct {
	// Resource is the resource as belay parity names it (database/api,
	// service/api); a path.Match pattern such as */api is allowed.
	Resource string `yaml:"resource" json:"resource" belay:"required"`
	// Attribute is the shape attribute that may differ (version, secrets,
	// …), * for any; left out, the exception excuses the resource being in
	// one environment and not the other.
	Attribute string `yaml:"attribute" json:"attribute,omitempty"`
	// Environments, when listed, are the environments between which the
	// exception holds; left out, it holds between any two.
	Environments []string `yaml:"environments" json:"environments,omitempty"`
	// Reason says why the difference is intended; required.
	Reason string `yaml:"reason" json:"reason" belay:"required"`

	// Path and Pos say where the exception is written, for errors about
	// it; ResourcePos and AttributePos where those fields are.
	Path         string `yaml:"-" json:"-"`
	Pos          Pos    `yaml:"-" json:"-"`
	ResourcePos  Pos    `yaml:"-" json:"-"`
	AttributePos Pos    `yaml:"-" json:"-"`
}

// Applies reports whether the exception holds between environments a and b.
func (x *ParityException) Applies(a, b string) bool {
	return len(x.Environments) == 0 || slices.Contains(x.Environments, a) && slices.Contains(x.Environments, b)
}

// Matches reports whether the exception excuses attribute of resource
// (attribute "" is the resource's presence).
func (x *ParityException) Matches(resource, attribute string) bool {
	if ok, _ := path.Match(x.Resource, resource); !ok {
		return false
	}
	if x.Attribute == "*" {
		return true
	}
	return x.Attribute == attribute
}

func (d *decoder) checkParity(p *Project) {
	d.checkStackEnabled(p)
	if p.Parity == nil {
		return
	}
	envs := p.EnvironmentNames()
	for i, x := range p.Parity.Exceptions {
		at := index("parity.exceptions", i)
		if x == nil {
			d.errAt(at, "empty exception: give resource:, reason: and, for a shape difference, attribute:")
			continue
		}
		x.Path, x.Pos = at, d.where(at)
		x.ResourcePos, x.AttributePos = d.where(at+".resource"), d.where(at+".attribute")
		if x.Resource != "" {
			if _, err := path.Match(x.Resource, ""); err != nil {
				d.errAt(at+".resource", "resource %q is not a valid pattern: %v", x.Resource, err)
			}
		}
		const needReason = "an exception needs a reason: add reason: saying why the environments may differ here"
		missing := false
		for _, e := range d.errs {
			if e.Path == at+".reason" && e.Msg == "required field is missing" {
				e.Msg, missing = needReason, true
			}
		}
		if !missing && d.set(at+".reason") && strings.TrimSpace(x.Reason) == "" {
			d.errAt(at+".reason", "%s", needReason)
		}
		seen := map[string]bool{}
		for j, e := range x.Environments {
			ep := index(at+".environments", j)
			switch {
			case seen[e]:
				d.errAt(ep, "environment %q is listed twice", e)
			case !slices.Contains(envs, e):
				d.errAt(ep, "environment %q is not defined%s; environments: %s", e, suggest(e, envs), listOrNone(envs))
			}
			seen[e] = true
		}
		if n := len(x.Environments); n == 1 {
			d.errAt(at+".environments", "one environment is listed: an exception holds between two, list both (or none for any two)")
		}
	}
}

// checkStackEnabled: enabled, the stack parameter that leaves a component
// out of one environment (belay parity reads it), is true or false.
func (d *decoder) checkStackEnabled(p *Project) {
	for i, env := range p.Environments {
		if env == nil {
			continue
		}
		for _, c := range sortedKeys(env.Stack) {
			v, ok := env.Stack[c]["enabled"]
			if !ok {
				continue
			}
			if _, err := strconv.ParseBool(v); err != nil {
				d.errAt(index("environments", i)+".stack."+c+".enabled", "enabled is %q: write true or false (false leaves %s out of %s)", v, c, env.Name)
			}
		}
	}
}
