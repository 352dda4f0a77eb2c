package analysis

import (
	"math"
	"time"

	"github.com/belay-dev/belay/internal/spec"
)

var latencyQuantile = map[spec.Metric]float64{
	spec.P50Latency: 0.5, spec.P90Latency: 0.9, spec.P95Latency: 0.95, spec.P99Latency: 0.99,
}

// measure is a trigger metric of one version with the requests it rests
// on: over the window for rates and latencies, since the step started for
// health-check failures and restarts (counts). ok is false without data: no
// series, or fewer than minReq requests in the window; the value is still
// given when there were requests, so that evidence shows what was seen.
func (a *Analyzer) measure(m spec.Metric, win, total Sample, have bool, minReq int64) (v float64, n int64, ok bool) {
	if !have {
		return 0, 0, false
	}
	switch m {
	case spec.HealthCheckFailures:
		return float64(total.Health), 0, true
	case spec.Restarts:
		return float64(total.Restarts), 0, true
	case spec.ErrorRate:
		n = win.Requests
		if n == 0 {
			return 0, 0, false
		}
		return float64(win.Errors) / float64(n), n, n >= minReq
	}
	q, known := latencyQuantile[m]
	if !known || win.Requests == 0 {
		return 0, win.Requests, false
	}
	v, ok = quantile(q, a.State.Bounds, win.Latency)
	return v, win.Requests, ok && win.Requests >= minReq
}

// evaluateTriggers judges every trigger on cur, the versions' totals now,
// against the window's base. Absolute triggers need only the canary;
// relative ones need stable's value too.
func (a *Analyzer) evaluateTriggers(cfg Config, cur Snapshot, haveC, haveS bool, now time.Time) {
	st := &a.State
	base := st.Window[0]
	winC, winS := cur.Canary.minus(base.Canary), cur.Stable.minus(base.Stable)
	for i, t := range cfg.Triggers {
		minReq := t.MinRequests
		if minReq == 0 {
			minReq = cfg.TriggerMinRequests
		}
		if t.Named != nil {
			a.evaluateNamed(i, t, now)
			continue
		}
		v, nC, okC := a.measure(t.Metric, winC, cur.Canary, haveC, minReq)
		b, nS, okS := a.measure(t.Metric, winS, cur.Stable, haveS, minReq)
		have := okC && (okS || !t.Relative)
		th := t.Threshold(b)
		ts := st.Triggers[i].evaluate(t, have && t.Op.Holds(v, th), have, now)
		ts.Value, ts.Threshold, ts.N, ts.Baseline, ts.BaselineN = v, th, nC, 0, 0
		if haveS && (okS || nS > 0) {
			ts.Baseline, ts.BaselineN = b, nS
		}
		st.Triggers[i] = ts
	}
}

func logInv(alpha float64) float64 { return -math.Log(alpha) }

// evaluateNamed judges trigger i on a named metric: the canary's value
// read at this tick, and stable's for a relative trigger. Stable's value
// of a metric split by version is kept beside the canary's for evidence.
func (a *Analyzer) evaluateNamed(i int, t TriggerConfig, now time.Time) {
	st := &a.State
	v, okC := a.namedValue(t, a.Config.Canary)
	b, okS := 0.0, false
	if a.Config.Stable != "" {
		b, okS = a.namedValue(t, a.Config.Stable)
	}
	have := okC && (okS || !t.Relative)
	th := t.Threshold(b)
	ts := st.Triggers[i].evaluate(t, have && t.Op.Holds(v, th), have, now)
	ts.Value, ts.Threshold, ts.N, ts.Baseline, ts.BaselineN = v, th, 0, 0, 0
	if okS {
		ts.Baseline = b
	}
	st.Triggers[i] = ts
}
