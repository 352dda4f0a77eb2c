package analysis

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/english"
	"github.com/belay-dev/belay/internal/spec"
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

// required is the canary requests a comparing step's pass needs (see
// RequiredCanaryRequests), and at least MinCanaryRequests.
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
	return max(RequiredCanaryRequests(p0, cfg.BaselineFloor, cfg.MinEffect, rho, cfg.Alpha, cfg.Ratios), cfg.MinCanaryRequests)
}

// decide gives the verdict at now: a firing trigger fails the step
// wherever it is; a comparing step also fails on the sequential test and
// halts on a broken split. Otherwise the step passes once nothing is left
// to wait for (see waiting), or turns inconclusive at MaxDuration. The
// watch never passes: it continues until the engine ends it.
func (a *Analyzer) decide(cfg Config, weight float64, haveC bool, now time.Time) Verdict {
	st := &a.State
	compares, need := cfg.Compares(weight), int64(0)
	if compares {
		need = a.required(cfg, weight)
	}
	v := Verdict{At: now, Evidence: a.evidence(cfg, weight, need)}
	if i := a.firing(); i >= 0 {
		t := cfg.Triggers[i]
		v.Decision, v.Trigger, v.Reason = Fail, t.Raw, a.fired(cfg, i, now)
		st.Final = &v
		return v
	}
	eErr, eLat, comb := a.sequential(cfg)
	if compares && comb.Reject {
		v.Decision, v.Trigger = Fail, "sequential:errors"
		if comb.MaxIndex == 1 {
			v.Trigger = "sequential:latency"
		}
		v.Reason = fmt.Sprintf("canary worse than stable: e-values errors %.3g, latency %.3g (average %.3g, threshold %.3g at α = %g)",
			eErr, eLat, comb.Average, 1/cfg.Alpha, cfg.Alpha)
		st.Final = &v
		return v
	}
	if compares && st.SRMFlagged {
		v.Decision, v.Policy = Inconclusive, cfg.OnSRM
		v.Reason = fmt.Sprintf("sample ratio mismatch: canary got %d of %d requests at weight %g%%; the traffic split is broken, so the comparison cannot be trusted",
			st.Canary.Total.Requests, st.Canary.Total.Requests+st.Stable.Total.Requests, weight)
		return v
	}
	waiting := a.waiting(cfg, compares, need, haveC, now)
	switch {
	case cfg.Watch:
		v.Decision = Continue
		v.Reason = "watching " + cfg.Canary + " with all traffic: no rollback trigger firing"
		if len(waiting) > 0 {
			v.Reason += "; " + strings.Join(waiting, ", ")
		}
	case len(waiting) == 0 && compares:
		v.Decision = Pass
		v.Reason = fmt.Sprintf("enough evidence: %d canary requests, no trigger firing, e-value %.3g below %.3g", st.Canary.Total.Requests, comb.Average, 1/cfg.Alpha)
	case len(waiting) == 0:
		v.Decision = Pass
		v.Reason = fmt.Sprintf("no rollback trigger firing or pending for the step's minimum duration (%s); triggers only, as %s", cfg.MinDuration, cfg.why(weight))
		if nd := a.noData(cfg); len(nd) > 0 {
			v.Reason += "; without data: " + strings.Join(nd, ", ")
		}
	case now.Sub(st.Started) >= cfg.MaxDuration:
		v.Decision, v.Policy = Inconclusive, cfg.OnLowTraffic
		v.Reason = "inconclusive after " + cfg.MaxDuration.String() + ": still waiting for " + strings.Join(waiting, ", ")
	default:
		v.Decision = Continue
		v.Reason = "waiting for " + strings.Join(waiting, ", ")
	}
	return v
}

// waiting lists what keeps the step from passing: its minimum duration,
// pending triggers, the canary's series and, when comparing, the traffic a
// pass needs.
func (a *Analyzer) waiting(cfg Config, compares bool, need int64, haveC bool, now time.Time) []string {
	st := &a.State
	var w []string
	if el := now.Sub(st.Started); el < cfg.MinDuration && !cfg.Watch {
		w = append(w, fmt.Sprintf("minimum duration (%s of %s)", el.Round(time.Second), cfg.MinDuration))
	}
	if compares && st.Canary.Total.Requests < need {
		w = append(w, fmt.Sprintf("traffic (%d of %s canary requests)", st.Canary.Total.Requests, count(need)))
	}
	for i, ts := range st.Triggers {
		if ts.Active || ts.Firing {
			w = append(w, fmt.Sprintf("trigger %q pending (%s of %s)", cfg.Triggers[i].Raw, now.Sub(ts.Since).Round(time.Second), cfg.Triggers[i].For))
		}
	}
	if !haveC {
		w = append(w, "canary data")
	}
	return w
}

// firing is the index of the first firing trigger, or -1.
func (a *Analyzer) firing() int {
	for i, ts := range a.State.Triggers {
		if ts.Firing {
			return i
		}
	}
	return -1
}

// fired says why trigger i fired, with its numbers: the canary's value
// and the requests it rests on, the window, the threshold, and how long
// the condition held.
func (a *Analyzer) fired(cfg Config, i int, now time.Time) string {
	st := &a.State
	t, ts := cfg.Triggers[i], st.Triggers[i]
	what := fmt.Sprintf("%s %s %s", cfg.Canary, t.Metric, format(t.kind(), ts.Value))
	if t.Named != nil {
		what += " read from Prometheus"
		if t.Named.ByVersion && cfg.Stable != "" && !t.Relative {
			what += fmt.Sprintf(" (stable %s)", format(t.kind(), ts.Baseline))
		}
	} else if k, _ := spec.KindOf(t.Metric); k == spec.KindCount {
		what += " since the step started"
	} else {
		what += fmt.Sprintf(" over the last %s (%s)", now.Sub(st.Window[0].At).Round(time.Second), english.Count(ts.N, "request"))
	}
	th := format(t.kind(), ts.Threshold)
	if t.Relative {
		th += fmt.Sprintf(" (stable %s + %g%%)", format(t.kind(), ts.Baseline), t.Margin*100)
	}
	out := fmt.Sprintf("trigger %q fired: %s against threshold %s", t.Raw, what, th)
	if t.For > 0 {
		out += fmt.Sprintf("; the condition held for %s (for %s)", now.Sub(ts.Since).Round(time.Millisecond), t.For)
	}
	return out
}

// noData lists the triggers whose last evaluation had no data, with the
// requests they saw.
func (a *Analyzer) noData(cfg Config) []string {
	var out []string
	for i, ts := range a.State.Triggers {
		if ts.NoData {
			out = append(out, fmt.Sprintf("%q (%s in the window)", cfg.Triggers[i].Raw, english.Count(ts.N, "request")))
		}
	}
	return out
}

func count(n int64) string {
	if n == math.MaxInt64 {
		return "∞"
	}
	return fmt.Sprint(n)
}
