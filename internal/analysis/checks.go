package analysis

import (
	"math"
	"time"

	"github.com/belay-dev/belay/internal/spec"
)

var latencyQuantile = map[spec.Metric]float64{
	spec.P50Latency: 0.5, spec.P90Latency: 0.9, spec.P95Latency: 0.95, spec.P99Latency: 0.99,
}

// metricValue is a trigger metric over the window (rates, latencies) or
// since the step started (health-check failures, restarts, which are counts).
func (a *Analyzer) metricValue(m spec.Metric, win, total Sample, have bool, minReq int64) (float64, bool) {
	if !have {
		return 0, false
	}
	switch m {
	case spec.ErrorRate:
		if win.Requests < minReq || win.Requests == 0 {
			return 0, false
		}
		return float64(win.Errors) / float64(win.Requests), true
	case spec.HealthCheckFailures:
		return float64(total.Health), true
	case spec.Restarts:
		return float64(total.Restarts), true
	}
	q, ok := latencyQuantile[m]
	if !ok || win.Requests < minReq {
		return 0, false
	}
	return quantile(q, a.State.Bounds, win.Latency)
}

func (a *Analyzer) evaluateTriggers(cfg Config, haveC, haveS bool, now time.Time) {
	st := &a.State
	base := st.Window[0]
	winC, winS := st.Canary.Total.minus(base.Canary), st.Stable.Total.minus(base.Stable)
	for i, t := range cfg.Triggers {
		minReq := t.MinRequests
		if minReq == 0 {
			minReq = cfg.MinRequests
		}
		v, okC := a.metricValue(t.Metric, winC, st.Canary.Total, haveC, minReq)
		b, okS := a.metricValue(t.Metric, winS, st.Stable.Total, haveS, minReq)
		have := okC && (okS || !t.Relative)
		th := t.Threshold(b)
		ts := st.Triggers[i].evaluate(t, have && t.Op.Holds(v, th), have, now)
		ts.Value, ts.Threshold, ts.Baseline = v, th, 0
		if okS {
			ts.Baseline = b
		}
		st.Triggers[i] = ts
	}
}

func logInv(alpha float64) float64 { return -math.Log(alpha) }
