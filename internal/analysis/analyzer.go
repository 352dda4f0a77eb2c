package analysis

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/target"
)

// Observation is what the engine read from a Source at one tick.
type Observation struct {
	Counters []target.Counters `json:"counters,omitempty"`
	// Weight is the canary's share of traffic in force, in percent (0–100).
	Weight float64 `json:"weight"`
	// Err is the source's failure (wrapping ErrNoData): the tick is judged
	// "metrics unavailable" and never passes.
	Err error `json:"-"`
	// Named holds the named metrics' values (see TriggerConfig.Named):
	// metric → version ("" when not split by version) → value; a missing
	// value is no data.
	Named map[string]map[string]float64 `json:"named,omitempty"`
}

// Analyzer judges one rollout step, or the watch after the last one (see
// Config.Watch). Config and State are JSON-encodable: the
// engine stores the Analyzer after every Step and, after a crash, reloads it
// and keeps calling Step. Step is deterministic: the same Analyzer,
// Observation and now give the same Verdict and the same new State.
type Analyzer struct {
	Config Config                        `json:"config"`
	State  State                         `json:"state"`
	named  map[string]map[string]float64 // the observation's named metrics, for this Step
}

// State is everything the analyzer learned during the step.
type State struct {
	Started    time.Time      `json:"started,omitzero"`
	Last       time.Time      `json:"last,omitzero"`
	Bounds     []float64      `json:"bounds,omitempty"` // latency bucket bounds in use
	Canary     Track          `json:"canary"`
	Stable     Track          `json:"stable"`
	Window     []Snapshot     `json:"window,omitempty"`
	Thresholds []float64      `json:"thresholds,omitempty"` // frozen slow-event thresholds, seconds
	Share      Share          `json:"share"`                // the canary's share of requests the tests judge at
	Errors     Sequential     `json:"errors"`
	Latency    []Sequential   `json:"latency,omitempty"` // one per threshold
	SRM        MixtureSPRT    `json:"srm"`
	SRMFlagged bool           `json:"srm_flagged,omitempty"`
	Triggers   []TriggerState `json:"triggers,omitempty"`
	Final      *Verdict       `json:"final,omitempty"` // a rollback verdict is final
	// UnavailableSince is when the source started failing; zero while it answers.
	UnavailableSince time.Time `json:"unavailable_since,omitzero"`
	// Pairs is a shadow step's (Config.Shadow) paired tests.
	Pairs *PairState `json:"pairs,omitempty"`
}

// srmRatios bet on the canary getting more or fewer requests than its weight.
var srmRatios = []float64{1 / 2.0, 1 / 1.5, 1 / 1.25, 1 / 1.1, 1.1, 1.25, 1.5, 2}

// New validates cfg and returns an analyzer that has seen nothing yet.
func New(cfg Config) (*Analyzer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Analyzer{Config: cfg.WithDefaults()}, nil
}

// Tick reads src with the configured timeout and calls Step: the engine's
// call every tick when it does not read sources itself.
func (a *Analyzer) Tick(ctx context.Context, src Source, env, service string, weight float64, now time.Time) Verdict {
	cfg := a.Config.WithDefaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	versions := []string{cfg.Canary}
	if cfg.Stable != "" {
		versions = append(versions, cfg.Stable)
	}
	q := Query{Environment: env, Service: service, Versions: versions}
	cs, err := src.Counters(ctx, q)
	obs := Observation{Counters: cs, Weight: weight, Err: err}
	if err == nil && !cfg.Shadow { // a shadow step is judged on its pairs alone
		obs.Named, obs.Err = readNamed(ctx, src, cfg, q)
	}
	return a.Step(obs, now)
}

// Step takes one observation and returns the verdict at now.
func (a *Analyzer) Step(obs Observation, now time.Time) Verdict {
	cfg := a.Config.WithDefaults()
	st := &a.State
	if st.Final != nil {
		return *st.Final
	}
	if obs.Err != nil {
		msg := obs.Err.Error()
		if !strings.HasPrefix(msg, ErrNoData.Error()) { // sources wrapping ErrNoData say it first
			msg = ErrNoData.Error() + ": " + msg
		}
		if st.UnavailableSince.IsZero() {
			st.UnavailableSince = now
		}
		if out := now.Sub(st.UnavailableSince); out < cfg.UnavailableGrace {
			return Verdict{Decision: Continue, At: now,
				Reason: fmt.Sprintf("%s; holding (%s of %s grace), never a pass without data", msg, out.Round(time.Millisecond), cfg.UnavailableGrace)}
		}
		return Verdict{Decision: Inconclusive, Policy: cfg.OnUnavailable, At: now, Reason: msg + "; never a pass without data"}
	}
	st.UnavailableSince = time.Time{}
	a.named = obs.Named
	if cfg.Shadow {
		return a.shadowStep(cfg, obs, now)
	}
	c, haveC := findCounters(obs.Counters, cfg.Canary)
	s, haveS := findCounters(obs.Counters, cfg.Stable)
	haveS = haveS && cfg.Stable != ""
	if st.Started.IsZero() {
		a.start(cfg, obs.Weight, c, s, haveC, haveS, now)
		return Verdict{Decision: Continue, At: now, Reason: "analysis started", Evidence: a.evidence(cfg, obs.Weight, a.required(cfg, obs.Weight))}
	}
	a.advance(cfg, obs.Weight, c, s, haveC, haveS, now)
	return a.decide(cfg, obs.Weight, haveC, now)
}

func (a *Analyzer) start(cfg Config, weight float64, c, s target.Counters, haveC, haveS bool, now time.Time) {
	st := &a.State
	st.Started, st.Last = now, now
	st.Errors = newSequential(cfg, cfg.Ratios)
	st.SRM = NewMixtureSPRT(srmRatios)
	st.Triggers = make([]TriggerState, len(cfg.Triggers))
	for _, cs := range []target.Counters{s, c} {
		if h := normalizeHistogram(cs.LatencyBounds, cs.LatencyCounts); len(st.Bounds) == 0 && len(h.Bounds) > 0 {
			st.Bounds = h.Bounds
		}
	}
	// A version without series yet starts from zero: whatever it reports
	// later was served during the step.
	if haveC {
		st.Canary.Raw = rawSample(c, st.Bounds)
	}
	if haveS {
		st.Stable.Raw = rawSample(s, st.Bounds)
		if cfg.Compares(weight) {
			a.freezeThresholds(cfg, st.Stable.Raw)
		}
	}
	st.Window = window(nil, Snapshot{At: now, Canary: st.Canary.Total, Stable: st.Stable.Total}, cfg.Window)
}

// freezeThresholds fixes the slow-event thresholds from stable's whole
// histogram so far, once it has enough requests: the upper bound of the
// bucket holding each configured quantile.
func (a *Analyzer) freezeThresholds(cfg Config, stableRaw Sample) {
	st := &a.State
	if len(st.Thresholds) > 0 || len(stableRaw.Latency) == 0 || stableRaw.Requests < cfg.MinBaselineRequests {
		return
	}
	seen := map[int]bool{}
	for _, q := range cfg.LatencyQuantiles {
		v, ok := quantile(q, st.Bounds, stableRaw.Latency)
		v = max(v*(1+cfg.LatencyTolerance), cfg.LatencyFloor.Seconds())
		i := bucketAt(st.Bounds, v)
		if !ok || i < 0 || seen[i] {
			continue
		}
		seen[i] = true
		st.Thresholds = append(st.Thresholds, st.Bounds[i])
		st.Latency = append(st.Latency, newSequential(cfg, cfg.LatencyRatios))
	}
}
