package analysis

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/belay-dev/belay/internal/spec"
)

// ErrConfig marks an analysis configuration that cannot be used.
var ErrConfig = errors.New("invalid analysis config")

// Policy is what the engine should do with an inconclusive verdict.
type Policy string

// Policies for inconclusive verdicts.
const (
	PolicyExtend   Policy = "extend"   // keep the step running and keep asking
	PolicyPause    Policy = "pause"    // pause the rollout for a human
	PolicyRollback Policy = "rollback" // roll back
)

// policies maps belay.yaml's policies onto the analysis's, one for one.
var policies = map[spec.InconclusivePolicy]Policy{
	spec.InconclusiveExtend: PolicyExtend, spec.InconclusivePause: PolicyPause, spec.InconclusiveRollback: PolicyRollback,
}

// PolicyOf is the policy belay.yaml names; "" (not set) is "", and a name
// the spec does not define is an error (spec validation refuses it first).
func PolicyOf(p spec.InconclusivePolicy) (Policy, error) {
	if p == "" {
		return "", nil
	}
	out, ok := policies[p]
	if !ok {
		return "", fmt.Errorf("inconclusive policy %q is unknown: use extend, pause or rollback", p)
	}
	return out, nil
}

// Config is one canary step's analysis. Zero values take the defaults of
// WithDefaults; it is JSON-encodable so the engine can store it with State.
//
// The rollback triggers judge every step: they are absolute and need no
// baseline. The sequential comparison of canary against stable judges only
// where it can (see Compares); elsewhere the triggers judge alone.
type Config struct {
	// Canary and Stable are version names as the source reports them.
	// Stable is empty on a first release: there is nothing to compare with.
	Canary   string          `json:"canary"`
	Stable   string          `json:"stable,omitempty"`
	Triggers []TriggerConfig `json:"triggers,omitempty"`
	Alpha    float64         `json:"alpha,omitempty"`  // false-rollback rate of the sequential test; default 0.01
	Test     Test            `json:"test,omitempty"`   // msprt (default), beta, or none (triggers only)
	BetaK    float64         `json:"beta_k,omitempty"` // prior strength of the Beta mixture; default 1
	// Watch marks the watch after the last step (the rollout's Watching
	// phase): the new version takes all traffic and only a firing trigger
	// fails it. Its verdicts are Continue or Fail, never Pass, for the
	// engine ends the watch by time; metrics unavailable past the grace are
	// Inconclusive (OnUnavailable), as everywhere, so that a watch without
	// data does not count as one.
	Watch bool `json:"watch,omitempty"`
	// Shadow marks a shadow step: the new version takes no users' traffic
	// and is judged on mirrored copies of stable's requests (see PairState).
	// It needs Stable.
	Shadow bool `json:"shadow,omitempty"`
	// MinDuration is the step's time floor before a pass; MaxDuration is when
	// too little traffic turns into an inconclusive verdict (default 3 ×
	// MinDuration, at least 5 m).
	MinDuration time.Duration `json:"min_duration,omitempty"`
	MaxDuration time.Duration `json:"max_duration,omitempty"`
	// A comparing step's pass needs enough canary requests that an error
	// rate MinEffect times stable's (stable's floored at BaselineFloor)
	// would have been caught, and at least MinCanaryRequests (belay.yaml's
	// analysis.min_requests; 0: the power figure alone).
	MinEffect         float64 `json:"min_effect,omitempty"`     // default 10 (0.1 % → 1 %)
	BaselineFloor     float64 `json:"baseline_floor,omitempty"` // default 0.001
	MinCanaryRequests int64   `json:"min_canary_requests,omitempty"`
	// LatencyQuantiles of stable, frozen when the canary starts, give the
	// slow-event thresholds (rounded up to bucket bounds).
	LatencyQuantiles []float64 `json:"latency_quantiles,omitempty"` // default 0.5, 0.9, 0.99
	LatencyWeight    float64   `json:"latency_weight,omitempty"`    // weight of latency vs errors; default 0.5
	// A threshold is stable's quantile × (1 + LatencyTolerance), and never
	// below LatencyFloor: a canary is judged on slowness users can notice,
	// not on sub-millisecond differences such as a fresh process's warm-up.
	LatencyTolerance float64       `json:"latency_tolerance,omitempty"` // default 0.25
	LatencyFloor     time.Duration `json:"latency_floor,omitempty"`     // default 5ms
	// ShadowLatencyFloor is a shadow step's LatencyFloor. A copy reaches the
	// new version by another path than the user's request reached stable
	// (sent after the answer, in its own goroutine), and on a loaded host
	// that path's tail is slower: measured A/A shadow steps rolled back on
	// slow events at 5 and 10 ms, and still at 51 and 72 ms (load average
	// 5–6 on 2 cores). Slowness is judged finely by the weighted steps, on
	// users' requests; a shadow step judges only gross slowness. Default 250ms.
	ShadowLatencyFloor time.Duration `json:"shadow_latency_floor,omitempty"`
	// Ratios and LatencyRatios are the rate ratios the mixtures bet on
	// (DefaultRatios; DefaultLatencyRatios, smaller because a latency
	// regression moves slow-event rates by less).
	Ratios        []float64 `json:"ratios,omitempty"`
	LatencyRatios []float64 `json:"latency_ratios,omitempty"`
	// MinBaselineRequests of stable are needed before thresholds are frozen.
	MinBaselineRequests int64         `json:"min_baseline_requests,omitempty"` // default 100
	Window              time.Duration `json:"window,omitempty"`                // trigger evaluation window; default 1m
	// TriggerMinRequests is the fewest requests of a version inside one
	// trigger window for its rate or latency to count as data (a trigger's
	// own MinRequests wins). Keep it small: a canary gets only its weight's
	// share of traffic, and a minimum above what one window can hold keeps
	// every rate trigger at no_data for good. Default 10.
	TriggerMinRequests int64         `json:"trigger_min_requests,omitempty"`
	OnLowTraffic       Policy        `json:"on_low_traffic,omitempty"` // default pause
	OnUnavailable      Policy        `json:"on_unavailable,omitempty"` // metrics unavailable; default pause
	OnSRM              Policy        `json:"on_srm,omitempty"`         // sample-ratio mismatch; default pause
	Timeout            time.Duration `json:"timeout,omitempty"`        // per source query in Tick; default 5s
	// UnavailableGrace is how long metrics may stay unavailable before the
	// verdict is "inconclusive: metrics unavailable" (and OnUnavailable
	// applies); until then the step holds, never passing. Default 5s, so that
	// one failed read does not page a person.
	UnavailableGrace time.Duration `json:"unavailable_grace,omitempty"`

	// Compared are named ratio metrics split by version (belay.yaml's
	// metrics:) shown canary beside stable in a comparing step's evidence,
	// as "metric:NAME"; they judge only through triggers.
	Compared map[string]NamedMetric `json:"compared,omitempty"`
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	def := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.Alpha, 0.01)
	def(&c.MinEffect, 10)
	def(&c.BaselineFloor, 0.001)
	def(&c.LatencyWeight, 0.5)
	def(&c.BetaK, 1)
	if c.Test == "" {
		c.Test = TestMixtureSPRT
	}
	def(&c.LatencyTolerance, 0.25)
	if c.LatencyFloor == 0 {
		c.LatencyFloor = 5 * time.Millisecond
	}
	if c.ShadowLatencyFloor == 0 {
		c.ShadowLatencyFloor = 250 * time.Millisecond
	}
	if len(c.LatencyQuantiles) == 0 {
		c.LatencyQuantiles = []float64{0.5, 0.9, 0.99}
	}
	if len(c.Ratios) == 0 {
		c.Ratios = DefaultRatios
	}
	if len(c.LatencyRatios) == 0 {
		c.LatencyRatios = DefaultLatencyRatios
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = max(3*c.MinDuration, 5*time.Minute)
	}
	if c.MinBaselineRequests == 0 {
		c.MinBaselineRequests = 100
	}
	if c.Window == 0 {
		c.Window = time.Minute
	}
	if c.TriggerMinRequests == 0 {
		c.TriggerMinRequests = 10
	}
	for _, p := range []*Policy{&c.OnLowTraffic, &c.OnUnavailable, &c.OnSRM} {
		if *p == "" {
			*p = PolicyPause
		}
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.UnavailableGrace == 0 {
		c.UnavailableGrace = 5 * time.Second
	}
	return c
}

// Validate reports the first unusable field, naming it.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Canary == "":
		return fmt.Errorf("%w: the canary version is required", ErrConfig)
	case c.Canary == c.Stable:
		return fmt.Errorf("%w: canary and stable are both %q; compare two versions", ErrConfig, c.Canary)
	case !(c.Alpha > 0 && c.Alpha < 1):
		return fmt.Errorf("%w: alpha %v must be between 0 and 1, e.g. 0.01", ErrConfig, c.Alpha)
	case c.MinEffect <= 1:
		return fmt.Errorf("%w: min_effect %v must be a rate ratio above 1, e.g. 10", ErrConfig, c.MinEffect)
	case c.UnavailableGrace < 0:
		return fmt.Errorf("%w: unavailable_grace %v must not be negative", ErrConfig, c.UnavailableGrace)
	case c.LatencyWeight < 0 || c.LatencyWeight >= 1:
		return fmt.Errorf("%w: latency_weight %v must be in [0, 1)", ErrConfig, c.LatencyWeight)
	case c.Test != TestMixtureSPRT && c.Test != TestBeta && c.Test != TestNone:
		return fmt.Errorf("%w: test %q: use %q, %q or %q", ErrConfig, c.Test, TestMixtureSPRT, TestBeta, TestNone)
	case c.MinCanaryRequests < 0 || c.TriggerMinRequests < 0:
		return fmt.Errorf("%w: min_canary_requests %d and trigger_min_requests %d must not be negative", ErrConfig, c.MinCanaryRequests, c.TriggerMinRequests)
	case c.BetaK <= 0:
		return fmt.Errorf("%w: beta_k %v must be positive, e.g. 1", ErrConfig, c.BetaK)
	case c.MaxDuration < c.MinDuration:
		return fmt.Errorf("%w: max_duration %v is shorter than min_duration %v", ErrConfig, c.MaxDuration, c.MinDuration)
	case c.Shadow && (c.Stable == "" || c.Watch):
		return fmt.Errorf("%w: a shadow step compares the new version with a stable one taking traffic; it needs a stable version and is not a watch", ErrConfig)
	}
	for _, rs := range [][]float64{c.Ratios, c.LatencyRatios} {
		for _, r := range rs {
			if !(r > 1) || math.IsInf(r, 1) {
				return fmt.Errorf("%w: ratio %v: the one-sided test bets on ratios above 1, e.g. 1.5, 2, 10", ErrConfig, r)
			}
		}
	}
	for _, p := range []Policy{c.OnLowTraffic, c.OnUnavailable, c.OnSRM} {
		if p != PolicyExtend && p != PolicyPause && p != PolicyRollback {
			return fmt.Errorf("%w: policy %q: use extend, pause or rollback", ErrConfig, p)
		}
	}
	for _, t := range c.Triggers {
		switch t.NoData {
		case "", NoDataHold, NoDataFail, NoDataPass:
		default:
			return fmt.Errorf("%w: trigger %q: no_data %q: use hold, fail or pass", ErrConfig, t.Raw, t.NoData)
		}
	}
	return nil
}

// Compares reports whether the sequential comparison of canary against
// stable judges a step at weight (percent): it needs a stable version,
// traffic split between the two, and a test. Otherwise the triggers judge
// alone.
func (c Config) Compares(weight float64) bool {
	return c.Stable != "" && c.Test != TestNone && weight < 100
}

// why says why a step at weight is judged by its triggers alone.
func (c Config) why(weight float64) string {
	switch {
	case c.Stable == "":
		return "a first release: no stable version to compare with"
	case c.Test == TestNone:
		return "the comparison is switched off (test: none)"
	}
	return fmt.Sprintf("%s takes %g%% of traffic: no stable traffic to compare with", c.Canary, weight)
}
