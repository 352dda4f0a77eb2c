// Package analysis judges a new version while it rolls out: rollback
// triggers with Prometheus `for` semantics at every step, plus an
// anytime-valid sequential comparison of canary against stable where there
// is a stable taking traffic, giving verdicts that carry their evidence.
// Metric sources live in subpackages (builtin, prometheus).
package analysis

import (
	"context"
	"errors"
	"time"

	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target"
)

// ErrNoData marks a source that could not answer (down, slow, or no series).
var ErrNoData = errors.New("metrics unavailable")

// Source gives cumulative per-version counters for a service in an environment.
type Source interface {
	Counters(ctx context.Context, q Query) ([]target.Counters, error)
}

// NamedSource reads named metrics (belay.yaml's metrics:): Value is the
// one number a PromQL template answers for a version ("" for a template
// without {{version}}); ok is false when it answers no series.
type NamedSource interface {
	Value(ctx context.Context, q Query, version, template string) (v float64, ok bool, err error)
}

// Query names what a Source is asked about.
type Query struct {
	Environment string
	Service     string
	Versions    []string
}

// Decision is what a verdict tells the engine to do.
type Decision string

// Decisions, from the engine's point of view.
const (
	Continue     Decision = "continue"     // keep watching; nothing proven yet
	Pass         Decision = "pass"         // the step has enough evidence and its minimum duration: advance
	Fail         Decision = "fail"         // roll back
	Inconclusive Decision = "inconclusive" // cannot judge (no data, too little traffic); the policy decides
)

// Verdict is one judgement with the numbers it rests on.
type Verdict struct {
	Decision Decision  `json:"decision"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
	// Policy is what to do with an Inconclusive verdict (extend, pause, rollback).
	Policy Policy `json:"policy,omitempty"`
	// Trigger is the rollback trigger that fired, or the sequential check
	// that rejected (e.g. "sequential:errors"), for a Fail.
	Trigger  string     `json:"trigger,omitempty"`
	Evidence []Evidence `json:"evidence,omitempty"`
}

// Evidence is one check's numbers at the time of a verdict.
type Evidence struct {
	Check     string  `json:"check"` // trigger text, or "sequential:errors", "sequential:latency>250ms", "srm"
	State     string  `json:"state"` // ok, pending, firing, no_data, passed
	Canary    float64 `json:"canary"`
	Baseline  float64 `json:"baseline,omitempty"`
	Threshold float64 `json:"threshold,omitempty"`
	Statistic float64 `json:"statistic,omitempty"` // e-value for sequential checks
	CanaryN   int64   `json:"canary_n,omitempty"`  // canary requests (or events) seen; a trigger's, in its window
	StableN   int64   `json:"stable_n,omitempty"`
	// NewWorse and StableWorse are a paired check's discordant pairs: the
	// new version failed (or was slow) where stable did not, and the reverse.
	NewWorse    int64 `json:"new_worse,omitempty"`
	StableWorse int64 `json:"stable_worse,omitempty"`
	// Kind is set on a trigger watching a metric of metrics: (read from
	// Prometheus): how its values are written.
	Kind spec.MetricKind `json:"kind,omitempty"`
}
