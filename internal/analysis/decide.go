package analysis

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// sequential gives the errors e-value, the latency e-value (mean over
// thresholds) and the combined rule's outcome. Before thresholds are frozen
// (or without a histogram) the latency e-value is 1, so the rule stays the
// same for the whole step and keeps its level.
func (a *Analyzer) sequential(cfg Config) (eErr, eLat float64, c Combined) {
	st := &a.State
	eErr, eLat = st.Errors.EValue(), 1
	if len(st.Latency) > 0 {
		eLat = 0
	}
	for _, m := range st.Latency {
		eLat += m.EValue() / float64(len(st.Latency))
	}
	return eErr, eLat, Combine([]float64{eErr, eLat}, []float64{1 - cfg.LatencyWeight, cfg.LatencyWeight}, cfg.Alpha)
}

// required is the canary requests a pass needs (see RequiredCanaryRequests).
func (a *Analyzer) required(cfg Config, weight float64) int64 {
	st := &a.State
	p0 := 0.0
	if st.Stable.Total.Requests > 0 {
		p0 = float64(st.Stable.Total.Errors) / float64(st.Stable.Total.Requests)
	}
	rho := weight / 100
	if n := st.Canary.Total.Requests + st.Stable.Total.Requests; !(rho > 0 && rho < 1) && n > 0 {
		rho = float64(st.Canary.Total.Requests) / float64(n)
	}
	return RequiredCanaryRequests(p0, cfg.BaselineFloor, cfg.MinEffect, rho, cfg.Alpha, cfg.Ratios)
}

func (a *Analyzer) decide(cfg Config, weight float64, haveC bool, now time.Time) Verdict {
	st := &a.State
	need := a.required(cfg, weight)
	v := Verdict{At: now, Evidence: a.evidence(cfg, weight, need)}
	for i, ts := range st.Triggers {
		if ts.Firing {
			t := cfg.Triggers[i]
			v.Decision, v.Trigger = Fail, t.Raw
			v.Reason = fmt.Sprintf("trigger %q fired: canary %s against threshold %s", t.Raw, format(t.Metric, ts.Value), format(t.Metric, ts.Threshold))
			st.Final = &v
			return v
		}
	}
	eErr, eLat, comb := a.sequential(cfg)
	if comb.Reject {
		v.Decision, v.Trigger = Fail, "sequential:errors"
		if comb.MaxIndex == 1 {
			v.Trigger = "sequential:latency"
		}
		v.Reason = fmt.Sprintf("canary worse than stable: e-values errors %.3g, latency %.3g (average %.3g, threshold %.3g at α = %g)",
			eErr, eLat, comb.Average, 1/cfg.Alpha, cfg.Alpha)
		st.Final = &v
		return v
	}
	if st.SRMFlagged {
		v.Decision, v.Policy = Inconclusive, cfg.OnSRM
		v.Reason = fmt.Sprintf("sample ratio mismatch: canary got %d of %d requests at weight %g%%; the traffic split is broken, so the comparison cannot be trusted",
			st.Canary.Total.Requests, st.Canary.Total.Requests+st.Stable.Total.Requests, weight)
		return v
	}
	var waiting []string
	if el := now.Sub(st.Started); el < cfg.MinDuration {
		waiting = append(waiting, fmt.Sprintf("minimum duration (%s of %s)", el.Round(time.Second), cfg.MinDuration))
	}
	if st.Canary.Total.Requests < need {
		waiting = append(waiting, fmt.Sprintf("traffic (%d of %s canary requests)", st.Canary.Total.Requests, count(need)))
	}
	for i, ts := range st.Triggers {
		if ts.Active || ts.Firing {
			waiting = append(waiting, fmt.Sprintf("trigger %q pending", cfg.Triggers[i].Raw))
		}
	}
	if !haveC {
		waiting = append(waiting, "canary data")
	}
	switch {
	case len(waiting) == 0:
		v.Decision = Pass
		v.Reason = fmt.Sprintf("enough evidence: %d canary requests, no trigger firing, e-value %.3g below %.3g", st.Canary.Total.Requests, comb.Average, 1/cfg.Alpha)
	case now.Sub(st.Started) >= cfg.MaxDuration:
		v.Decision, v.Policy = Inconclusive, cfg.OnLowTraffic
		v.Reason = "inconclusive after " + cfg.MaxDuration.String() + ": still waiting for " + strings.Join(waiting, ", ")
	default:
		v.Decision = Continue
		v.Reason = "waiting for " + strings.Join(waiting, ", ")
	}
	return v
}

func count(n int64) string {
	if n == math.MaxInt64 {
		return "∞"
	}
	return fmt.Sprint(n)
}
