package spec

import (
	"strings"
	"time"
)

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
	// Watch is how long the new version keeps all traffic once it reaches
	// 100 %, with the rollback triggers still judging, before it becomes the
	// environment's stable; default 0 (no watch), at most MaxWatch.
	Watch Duration `yaml:"watch" json:"watch"`
	// KeepPrevious keeps the previous stable started, without traffic, during
	// the watch, so that a rollback is a weight change and not a cold start;
	// false stops it when the watch begins. Default true.
	KeepPrevious bool `yaml:"keep_previous" json:"keep_previous"`

	// written records which of the fields above whose zero value is a
	// choice (watch: 0, keep_previous: false) the file sets, so that an
	// environment's rollout inherits only what it leaves out.
	written struct{ watch, keepPrevious bool }
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

// MaxWatch is the longest rollout.watch belay accepts.
const MaxWatch = Duration(24 * time.Hour)

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
	if d.set(path+".watch") && r.Watch > MaxWatch { // an inherited watch is reported where it is written
		d.errAt(path+".watch", "watch %s is above the maximum of %s: the new version waits this long before it becomes stable; use a shorter watch such as 10m or 1h", short(r.Watch), short(MaxWatch))
	}
}

// short writes d as people do: 25h, not 25h0m0s.
func short(d Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// checkKeepPrevious refuses a keep_previous that no watch uses: the previous
// stable is kept only while a watch runs.
func (d *decoder) checkKeepPrevious(p *Project, s *Service, path string) {
	const msg = "keep_previous has no effect without a watch: the previous stable is kept only during rollout.watch; add e.g. watch: 10m, or remove keep_previous"
	used := false
	for _, e := range p.Environments {
		if e == nil {
			continue
		}
		r := s.Rollout
		if o := s.Environments[e.Name]; o != nil && o.Rollout != nil {
			r = o.Rollout
			if at := path + ".environments." + e.Name + ".rollout.keep_previous"; d.set(at) {
				if r.Watch == 0 {
					d.errAt(at, msg)
				}
				continue // its own keep_previous, not the service's
			}
		}
		used = used || r != nil && r.Watch > 0
	}
	if d.set(path+".rollout.keep_previous") && !used {
		d.errAt(path+".rollout.keep_previous", msg)
	}
}

// noteWritten records which of r's inheritable zero-valued fields the file
// sets at path; it runs before an environment's rollout inherits.
func (d *decoder) noteWritten(path string, r *Rollout) {
	if r == nil {
		return
	}
	r.written.watch = d.set(path + ".watch")
	r.written.keepPrevious = d.set(path + ".keep_previous")
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
	if !r.written.keepPrevious {
		r.KeepPrevious = true
	}
}

// inherit fills what an environment's rollout leaves out from the service's:
// canary steps (when it is stepped too), drain timeout, stickiness, watch and
// keep_previous.
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
	if !r.written.watch {
		r.Watch, r.written.watch = base.Watch, base.written.watch
	}
	if !r.written.keepPrevious {
		r.KeepPrevious, r.written.keepPrevious = base.KeepPrevious, base.written.keepPrevious
	}
}
