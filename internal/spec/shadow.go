package spec

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
)

var headerToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ShadowSettings bound the copies that a rollout's shadow and replay steps
// send the new version. Zero fields take the defaults below; Load fills them
// in, and Effective gives them for a rollout without a shadow block.
type ShadowSettings struct {
	// Methods are the HTTP methods copied or replayed, in upper case; default
	// GET, HEAD and OPTIONS. At least one must be idempotent (RFC 9110).
	Methods []string `yaml:"methods" json:"methods,omitempty"`
	// MaxInFlight bounds the copies waiting for an answer at once, so that a
	// slow new version cannot hold the stable one's memory; default 64, at
	// most MaxShadowInFlight.
	MaxInFlight int `yaml:"max_in_flight" json:"max_in_flight,omitempty"`
	// MaxRate bounds the copies per second; 0 (default) is unbounded.
	MaxRate float64 `yaml:"max_rate" json:"max_rate,omitempty"`
	// ReplayRate is how many recorded requests per second a replay step
	// sends; default 50, at most MaxReplayRate.
	ReplayRate float64 `yaml:"replay_rate" json:"replay_rate,omitempty"`
	// DropHeaders are removed from replayed requests, beside the credentials
	// the agent never records (Authorization, Proxy-Authorization, Cookie).
	DropHeaders []string `yaml:"drop_headers" json:"drop_headers,omitempty"`
}

// Shadow defaults and bounds.
const (
	DefaultShadowMaxInFlight = 64
	MaxShadowInFlight        = 10000
	DefaultShadowMaxRate     = 0 // unbounded
	DefaultReplayRate        = 50
	MaxReplayRate            = 10000
)

// DefaultShadowMethods are the methods copied when shadow.methods is left
// out: the safe ones, whose copies change nothing.
func DefaultShadowMethods() []string { return []string{"GET", "HEAD", "OPTIONS"} }

// shadowMethods are the methods a shadow: block may list, the idempotent
// ones (RFC 9110, section 9.2.2) first.
var shadowMethods = []string{"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", "POST", "PATCH"}

func idempotent(method string) bool {
	i := slices.Index(shadowMethods, method)
	return i >= 0 && i < 6
}

// Effective returns s with the defaults filled in; a nil s is all defaults.
func (s *ShadowSettings) Effective() ShadowSettings {
	var e ShadowSettings
	if s != nil {
		e = *s
		e.Methods = slices.Clone(s.Methods)
	}
	if len(e.Methods) == 0 {
		e.Methods = DefaultShadowMethods()
	}
	e.MaxInFlight = cmp.Or(e.MaxInFlight, DefaultShadowMaxInFlight)
	e.ReplayRate = cmp.Or(e.ReplayRate, DefaultReplayRate)
	return e
}

func (s *ShadowSettings) applyDefaults() {
	if s != nil {
		*s = s.Effective()
	}
}

// mirrors reports whether any step sends the new version requests whose
// answers no user sees.
func (r *Rollout) mirrors() bool {
	return r != nil && slices.ContainsFunc(r.Steps, (*CanaryStep).mirrors)
}

// checkShadowSettings checks the values a shadow: block writes at path.
func (d *decoder) checkShadowSettings(path string, s *ShadowSettings) {
	if s == nil {
		return
	}
	if d.set(path + ".methods") {
		for i, m := range s.Methods {
			switch up := strings.ToUpper(m); {
			case contains(shadowMethods, m):
			case contains(shadowMethods, up):
				d.errAt(index(path+".methods", i), "method %q must be written in upper case: %s", m, up)
			default:
				d.errAt(index(path+".methods", i), "unknown method %q%s; expected one of: %s", m, suggest(m, shadowMethods), strings.Join(shadowMethods, ", "))
			}
		}
	}
	if d.set(path+".max_in_flight") && (s.MaxInFlight < 1 || s.MaxInFlight > MaxShadowInFlight) {
		d.errAt(path+".max_in_flight", "max_in_flight %d must be between 1 and %d: it bounds the copies waiting for an answer at once (default %d)", s.MaxInFlight, MaxShadowInFlight, DefaultShadowMaxInFlight)
	}
	if d.set(path+".max_rate") && s.MaxRate < 0 {
		d.errAt(path+".max_rate", "max_rate %v must not be negative: it is copies per second, 0 for no bound", s.MaxRate)
	}
	for i, h := range s.DropHeaders {
		if !headerToken.MatchString(h) {
			d.errAt(index(path+".drop_headers", i), "drop_headers: %q is not a header name (letters, digits and -, e.g. X-Api-Key)", h)
		}
	}
	if d.set(path+".replay_rate") && (s.ReplayRate <= 0 || s.ReplayRate > MaxReplayRate) {
		d.errAt(path+".replay_rate", "replay_rate %v must be above 0 and at most %d replayed requests per second (default %d)", s.ReplayRate, MaxReplayRate, DefaultReplayRate)
	}
}

// checkShadowUse checks shadow and replay steps and shadow: blocks where the
// rollout of each environment is known, after inheritance: a replay names
// another declared environment, copied methods include an idempotent one,
// and every shadow: block serves some shadow or replay step.
func (d *decoder) checkShadowUse(p *Project, s *Service, path string) {
	own := path + ".rollout"
	d.checkReplayNames(p, own, s.Rollout)
	for _, env := range sortedKeys(s.Environments) {
		if o := s.Environments[env]; o != nil {
			d.checkReplayNames(p, path+".environments."+env+".rollout", o.Rollout)
		}
	}
	envs := []string{""} // without environments, the service's rollout alone
	if names := p.EnvironmentNames(); len(names) > 0 {
		envs = names
	}
	used := false                // the service's shadow: block serves a step somewhere
	replays := map[string]bool{} // blocks that serve a replay step
	for _, env := range envs {
		r, at := s.Rollout, own
		if o := s.Environments[env]; o != nil && o.Rollout != nil {
			r, at = o.Rollout, path+".environments."+env+".rollout"
		}
		if r == nil {
			continue
		}
		d.checkSelfReplay(env, r, at, own)
		block := own + ".shadow"
		if d.set(at + ".shadow") {
			block = at + ".shadow"
		}
		if !r.mirrors() {
			if block != own+".shadow" {
				d.errAt(block, "%s", shadowUnusedMsg)
			}
			continue
		}
		used = used || block == own+".shadow"
		replays[block] = replays[block] || slices.ContainsFunc(r.Steps, func(st *CanaryStep) bool { return st != nil && st.Replay != "" })
		if r.Shadow != nil && d.set(block+".methods") && !slices.ContainsFunc(r.Shadow.Methods, idempotent) && !d.hasErrUnder(block+".methods") {
			d.errAt(block+".methods", "methods lists no idempotent method: mirroring would only copy requests that change state; list GET (and HEAD, OPTIONS), or remove the shadow: and replay: steps")
		}
	}
	if d.set(own+".shadow") && !used {
		d.errAt(own+".shadow", "%s", shadowUnusedMsg)
	}
	for block, replayed := range replays {
		for _, f := range []string{"replay_rate", "drop_headers"} {
			if !replayed && d.set(block+"."+f) {
				d.errAt(block+"."+f, "%s has no effect without a replay: step: it applies to replayed requests only; add a step such as {replay: production, min_duration: 5m}, or remove %s", f, f)
			}
		}
	}
}

const shadowUnusedMsg = "shadow settings have no effect without a shadow: or replay: step: they bound the copies such steps make; add a step such as {shadow: 100%, min_duration: 5m} before the weighted steps, or remove shadow:"

// checkReplayNames checks that the replay steps written at path name
// declared environments.
func (d *decoder) checkReplayNames(p *Project, path string, r *Rollout) {
	if r == nil || !d.set(path+".steps") {
		return // no steps, or the service's (checked there)
	}
	names := p.EnvironmentNames()
	for i, st := range r.Steps {
		if st != nil && st.Replay != "" && p.Environment(st.Replay) == nil {
			d.errAt(index(path+".steps", i)+".replay", "replay: %s names no environment%s; environments: %s", st.Replay, suggest(st.Replay, names), listOrNone(names))
		}
	}
}

// checkSelfReplay refuses a replay step in env's rollout (written at at, or
// inherited from the service's at own) that replays env into itself.
func (d *decoder) checkSelfReplay(env string, r *Rollout, at, own string) {
	stepsAt := at
	if !d.set(at + ".steps") {
		stepsAt = own
	}
	for i, st := range r.Steps {
		if st == nil || env == "" || st.Replay != env {
			continue
		}
		p := index(stepsAt+".steps", i) + ".replay"
		switch {
		case at == own:
			d.errAt(p, "replay: %s would replay %s into itself: %s has no rollout of its own and takes this one; give environments.%s a rollout: of its own, or replay another environment", env, env, env, env)
		case stepsAt == own:
			d.errAt(p, "replay: %s would replay %s into itself: environments.%s.rollout takes these steps from this rollout; give it steps of its own, or replay another environment", env, env, env)
		default:
			d.errAt(p, "replay: %s names this rollout's own environment: a replay step sends another environment's recent requests to the new version; name another environment", env)
		}
	}
}
