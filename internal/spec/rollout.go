package spec

// Rollout is how traffic moves to a new version in one environment.
type Rollout struct {
	Strategy Strategy `yaml:"strategy" json:"strategy" belay:"required"`
	// Steps are the canary weights in increasing order, the last 100%.
	Steps []*CanaryStep `yaml:"steps" json:"steps,omitempty"`
	// DrainTimeout is how long the old version keeps serving in-flight
	// requests after it gets no new ones; default 30s.
	DrainTimeout Duration `yaml:"drain_timeout" json:"drain_timeout"`
	// Sticky keeps a client on one version by a request header or cookie.
	Sticky *Sticky `yaml:"sticky" json:"sticky,omitempty"`
}

// CanaryStep is one weight of a canary and the least time it is held.
type CanaryStep struct {
	Weight      Percent  `yaml:"weight" json:"weight" belay:"required"`
	MinDuration Duration `yaml:"min_duration" json:"min_duration"`
}

// Sticky names what pins a client to a version: exactly one of Header or Cookie.
type Sticky struct {
	Header string `yaml:"header" json:"header,omitempty"`
	Cookie string `yaml:"cookie" json:"cookie,omitempty"`
}

// DefaultDrainTimeout is how long a replaced version drains.
const DefaultDrainTimeout = Duration(30e9)

func (d *decoder) checkRollout(path string, r *Rollout) {
	if r == nil || r.Strategy == "" {
		return
	}
	if !r.Strategy.Stepped() {
		if len(r.Steps) > 0 {
			d.errAt(path+".steps", "strategy %s takes no steps; use strategy: canary to shift traffic in steps", r.Strategy)
		}
	} else {
		d.checkSteps(path, r)
	}
	if s := r.Sticky; s != nil && (s.Header != "") == (s.Cookie != "") {
		d.errAt(path+".sticky", "sticky needs exactly one of header: or cookie:")
	}
}

func (d *decoder) checkSteps(path string, r *Rollout) {
	if len(r.Steps) == 0 {
		d.errAt(path, "strategy %s needs steps, e.g. steps: [{weight: 5%%, min_duration: 5m}, {weight: 100%%}]", r.Strategy)
		return
	}
	prev := Percent(0)
	for i, s := range r.Steps {
		p := index(path+".steps", i)
		if s == nil {
			d.errAt(p, "empty step: give weight: and min_duration:")
			continue
		}
		if s.Weight <= prev {
			if i == 0 {
				d.errAt(p+".weight", "weight must be above 0%%")
			} else {
				d.errAt(p+".weight", "weight %s must be greater than the previous step's %s: canary weights increase", s.Weight, prev)
			}
		}
		prev = max(prev, s.Weight)
	}
	if last := r.Steps[len(r.Steps)-1]; last != nil && last.Weight != 1 {
		d.errAt(index(path+".steps", len(r.Steps)-1)+".weight", "the last step must be 100%%, got %s", last.Weight)
	}
}

func (r *Rollout) applyDefaults() {
	if r.DrainTimeout == 0 {
		r.DrainTimeout = DefaultDrainTimeout
	}
}

// inherit fills what an environment's rollout leaves out from the service's:
// canary steps (when it is stepped too), drain timeout and stickiness.
func (r *Rollout) inherit(base *Rollout) {
	if r == nil || base == nil {
		return
	}
	if r.Strategy.Stepped() && len(r.Steps) == 0 && base.Strategy.Stepped() {
		r.Steps = base.Steps
	}
	if r.DrainTimeout == 0 {
		r.DrainTimeout = base.DrainTimeout
	}
	if r.Sticky == nil {
		r.Sticky = base.Sticky
	}
}
