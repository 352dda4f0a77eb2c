package analysis

import (
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
