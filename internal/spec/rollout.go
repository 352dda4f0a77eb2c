package spec

import (
	"strings"
	"time"
)

// Rollout is how traffic moves to a new version in one environment.
type Rollout struct {
	Strategy Strategy `yaml:"strategy" json:"strategy" belay:"required"`
	// Steps are the canary weights in increasing order, the last 100%,
	// after any shadow and replay steps, which judge the new version before
	// a user reaches it. A stepped strategy needs weighted steps; for
	// all_at_once, steps may only be shadow or replay steps, run before the
	// switch.
	Steps []*CanaryStep `yaml:"steps" json:"steps,omitempty"`
	// DrainTimeout is how long the old version keeps serving in-flight
	// requests after it gets no new ones; default 30s.
	DrainTimeout Duration `yaml:"drain_timeout" json:"drain_timeout"`
	// Sticky keeps a client on one version by a request header or cookie.
	Sticky *Sticky `yaml:"sticky" json:"sticky,omitempty"`
	// Shadow bounds the copies that shadow and replay steps make; it takes
	// effect only with such a step. Defaults: see ShadowSettings.
	Shadow *ShadowSettings `yaml:"shadow" json:"shadow,omitempty"`
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

// CanaryStep is one step of a rollout and the least time it is held: exactly
// one of Weight, Shadow and Replay is set (see Kind).
type CanaryStep struct {
	// Weight is the share of users the new version answers.
	Weight Percent `yaml:"weight" json:"weight,omitempty"`
	// Shadow is the share of requests copied to the new version while the
	// stable version answers every user; above 0% and at most 100%.
	Shadow Percent `yaml:"shadow" json:"shadow,omitempty"`
	// Replay names another environment whose recent requests are replayed,
	// a sample of them, against the new and the previous version.
	Replay      string   `yaml:"replay" json:"replay,omitempty"`
	MinDuration Duration `yaml:"min_duration" json:"min_duration"`
}

// StepKind says what a rollout step does.
type StepKind string

// Step kinds.
const (
	StepWeight StepKind = "weight" // users are answered by the new version
	StepShadow StepKind = "shadow" // copies of requests go to the new version
	StepReplay StepKind = "replay" // another environment's requests are replayed
)

// Kind says which of weight, shadow and replay the step is.
func (s *CanaryStep) Kind() StepKind {
	switch {
	case s.Replay != "":
		return StepReplay
	case s.Shadow > 0:
		return StepShadow
	}
	return StepWeight
}

// mirrors reports whether the step sends the new version requests whose
// answers no user sees.
func (s *CanaryStep) mirrors() bool { return s != nil && s.Kind() != StepWeight }

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
	d.checkSteps(path, r)
	d.checkShadowSettings(path+".shadow", r.Shadow)
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

// checkSteps checks the steps written at path: each is one of weight,
// shadow and replay; shadow and replay steps come first; the weights increase
// to 100%. Inherited steps were checked where they are written.
func (d *decoder) checkSteps(path string, r *Rollout) {
	if len(r.Steps) == 0 {
		if r.Strategy.Stepped() {
			d.errAt(path, "strategy %s needs steps, e.g. steps: [{weight: 5%%, min_duration: 5m}, {weight: 100%%}]", r.Strategy)
		}
		return
	}
	if !d.set(path + ".steps") {
		return
	}
	first, last := -1, -1 // the first and last weighted steps
	prev, unknown := Percent(0), false
	for i, s := range r.Steps {
		p := index(path+".steps", i)
		k := d.stepKind(p, s)
		switch {
		case k == "":
			unknown = true
		case k != StepWeight && first >= 0:
			what := map[StepKind]string{StepShadow: "copies", StepReplay: "replayed requests"}[k]
			d.errAt(p+"."+string(k), "a %s step must come before the first weighted step (steps[%d] is weight %s): %s are judged before any user reaches the new version; move it up",
				k, first, r.Steps[first].Weight, what)
		case k == StepShadow && s.Shadow <= 0:
			d.errAt(p+".shadow", "%s", shadowShareMsg(s.Shadow.String()))
		case k == StepReplay && s.Replay == "":
			d.errAt(p+".replay", "replay needs the environment whose recent requests are replayed, e.g. replay: production")
		case k != StepWeight:
		case !r.Strategy.Stepped():
			d.errAt(path+".steps", "strategy %s takes no weighted steps (only shadow: and replay: steps, run before the switch); use strategy: canary to shift traffic in steps", r.Strategy)
		default:
			if first < 0 && s.Weight <= 0 {
				d.errAt(p+".weight", "weight must be above 0%%")
			} else if first >= 0 && s.Weight <= prev {
				d.errAt(p+".weight", "weight %s must be greater than the previous step's %s: canary weights increase", s.Weight, prev)
			}
			if first < 0 {
				first = i
			}
			last, prev = i, max(prev, s.Weight)
		}
	}
	switch {
	case !r.Strategy.Stepped() || unknown:
	case last < 0:
		d.errAt(path+".steps", "strategy %s needs weighted steps after its shadow: and replay: steps, the last 100%%, e.g. - {weight: 5%%, min_duration: 5m} and - {weight: 100%%}", r.Strategy)
	case r.Steps[last].Weight != 1:
		d.errAt(index(path+".steps", last)+".weight", "the last step must be 100%%, got %s", r.Steps[last].Weight)
	}
}

// stepKind is which of weight, shadow and replay the step at p is written
// as, or "" when it is none, more than one (reported) or misspelt. Written keys count,
// not values, so that weight: 0% is a weight step with a bad weight.
func (d *decoder) stepKind(p string, s *CanaryStep) StepKind {
	if s == nil {
		d.errAt(p, "empty step: give one of weight:, shadow: or replay:, and min_duration:")
		return ""
	}
	var keys []string
	for _, k := range []StepKind{StepWeight, StepShadow, StepReplay} {
		if d.set(p+"."+string(k)) || d.misspelt[p+"."+string(k)] {
			keys = append(keys, string(k))
		}
	}
	switch len(keys) {
	case 0:
		d.errAt(p, "a step is one of weight:, shadow: or replay:; give one, e.g. {weight: 5%%, min_duration: 5m} or {shadow: 100%%, min_duration: 5m}")
		return ""
	case 1:
		if d.misspelt[p+"."+keys[0]] {
			return "" // the misspelling is the one problem
		}
		return StepKind(keys[0])
	}
	d.errAt(p, "a step is one of weight:, shadow: or replay:, and this one sets %s: split it into one step each", strings.Join(keys, " and "))
	return ""
}

// shadowShareMsg refuses a shadow share outside (0%, 100%].
func shadowShareMsg(share string) string {
	return "shadow share " + share + " must be above 0% and at most 100%: it is the share of requests copied to the new version while the stable version answers users; write e.g. shadow: 100%"
}

func (r *Rollout) applyDefaults() {
	if r.DrainTimeout == 0 {
		r.DrainTimeout = DefaultDrainTimeout
	}
	if !r.written.keepPrevious {
		r.KeepPrevious = true
	}
	r.Shadow.applyDefaults()
}

// inherit fills what an environment's rollout leaves out from the service's:
// canary steps (when it is stepped too), drain timeout, stickiness, shadow
// settings (a block is taken whole), watch and keep_previous.
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
	if r.Shadow == nil {
		r.Shadow = base.Shadow
	}
	if !r.written.watch {
		r.Watch, r.written.watch = base.Watch, base.written.watch
	}
	if !r.written.keepPrevious {
		r.KeepPrevious, r.written.keepPrevious = base.KeepPrevious, base.written.keepPrevious
	}
}
