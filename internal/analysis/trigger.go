package analysis

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/belay-dev/belay/internal/spec"
)

// NoDataPolicy says how a trigger treats an evaluation without data (too few
// requests in the window, a version without series).
type NoDataPolicy string

// No-data policies; hold is the default.
const (
	NoDataHold NoDataPolicy = "hold" // keep the trigger where it was: neither fire nor reset
	NoDataFail NoDataPolicy = "fail" // count it as the condition holding
	NoDataPass NoDataPolicy = "pass" // count it as the condition not holding
)

// TriggerConfig is a parsed rollback trigger with its analysis options.
type TriggerConfig struct {
	spec.Trigger
	NoData NoDataPolicy `json:"no_data,omitempty"`
	// MinRequests is the fewest requests of a version in the window for its
	// rate or latency to count as data; 0: Config.TriggerMinRequests.
	MinRequests int64 `json:"min_requests,omitempty"`
	// Named is set for a trigger on a metric of belay.yaml's metrics:,
	// read from Prometheus by its query at every tick (see NamedSource).
	Named *NamedMetric `json:"named,omitempty"`
}

// NamedMetric is how a named metric is read and written.
type NamedMetric struct {
	Query string          `json:"query"` // PromQL template (spec.MetricDef.Query)
	Kind  spec.MetricKind `json:"kind"`
	// ByVersion: the query has {{version}}, so canary and stable are read
	// apart; otherwise it is read once and judged as the canary's.
	ByVersion bool `json:"by_version,omitempty"`
}

// kind is how the trigger's values are written.
func (t TriggerConfig) kind() spec.Kind {
	if t.Named != nil {
		return t.Named.Kind.Kind()
	}
	k, _ := spec.KindOf(t.Metric)
	return k
}

// Trigger states, as shown in Evidence.State.
const (
	StateOK      = "ok"
	StatePending = "pending"
	StateFiring  = "firing"
	StateNoData  = "no_data"
	StatePassed  = "passed"
)

// TriggerState is one trigger's Prometheus-style alert state.
type TriggerState struct {
	Active bool      `json:"active,omitempty"` // the condition held at the last evaluation with data
	Since  time.Time `json:"since,omitzero"`   // first true evaluation of the current run
	Firing bool      `json:"firing,omitempty"`
	NoData bool      `json:"no_data,omitempty"` // the last evaluation had no data
	// Value and Baseline are the canary's and stable's values at the last
	// evaluation, N and BaselineN the requests they rest on (the window's,
	// for rates and latencies). They are shown even when too few requests
	// made them no data, so that evidence says what was seen.
	Value     float64 `json:"value"`
	Baseline  float64 `json:"baseline,omitempty"`
	Threshold float64 `json:"threshold"`
	N         int64   `json:"n,omitempty"`
	BaselineN int64   `json:"baseline_n,omitempty"`
}

// evaluate advances s with Prometheus `for` semantics: pending from the
// first true evaluation, firing at the first evaluation at least For later,
// reset by one false evaluation. have=false applies the no-data policy.
func (s TriggerState) evaluate(t TriggerConfig, cond, have bool, now time.Time) TriggerState {
	s.NoData = !have
	if !have {
		switch t.NoData {
		case NoDataFail:
			cond = true
		case NoDataPass:
			cond = false
		default:
			return s
		}
	}
	if !cond {
		s.Active, s.Firing, s.Since = false, false, time.Time{}
		return s
	}
	if !s.Active {
		s.Active, s.Since = true, now
	}
	if now.Sub(s.Since) >= t.For {
		s.Firing = true
	}
	return s
}

// Label is the state word for Evidence.
func (s TriggerState) Label() string {
	switch {
	case s.Firing:
		return StateFiring
	case s.NoData:
		return StateNoData
	case s.Active:
		return StatePending
	}
	return StateOK
}

// readNamed reads every named metric a trigger watches, per version when
// the metric is split by version. Any failed query fails the tick, as a
// failed Counters does: a half-read tick is never judged.
func readNamed(ctx context.Context, src Source, cfg Config, q Query) (map[string]map[string]float64, error) {
	var out map[string]map[string]float64
	for _, t := range cfg.Triggers {
		name := string(t.Metric)
		if t.Named == nil || out[name] != nil {
			continue
		}
		ns, ok := src.(NamedSource)
		if !ok {
			return nil, fmt.Errorf("%w: trigger %q watches a metric of metrics:, which needs a Prometheus server to read it", ErrNoData, t.Raw)
		}
		if out == nil {
			out = map[string]map[string]float64{}
		}
		out[name] = map[string]float64{}
		versions := q.Versions
		if !t.Named.ByVersion {
			versions = []string{""}
		}
		for _, ver := range versions {
			v, ok, err := ns.Value(ctx, q, ver, t.Named.Query)
			if err != nil {
				return nil, err
			}
			if ok {
				out[name][ver] = v
			}
		}
	}
	ns, _ := src.(NamedSource)
	for _, name := range slices.Sorted(maps.Keys(cfg.Compared)) {
		if ns == nil || out[name] != nil {
			continue
		}
		if out == nil {
			out = map[string]map[string]float64{}
		}
		out[name] = map[string]float64{}
		for _, ver := range q.Versions {
			// shown, never judged: a failed read leaves the value out
			if v, ok, err := ns.Value(ctx, q, ver, cfg.Compared[name].Query); err == nil && ok {
				out[name][ver] = v
			}
		}
	}
	return out, nil
}

// namedValue is a named metric's value of version at this Step.
func (a *Analyzer) namedValue(t TriggerConfig, version string) (float64, bool) {
	if !t.Named.ByVersion {
		if version != a.Config.Canary {
			return 0, false
		}
		version = ""
	}
	v, ok := a.named[string(t.Metric)][version]
	return v, ok && !math.IsNaN(v) && !math.IsInf(v, 0)
}
