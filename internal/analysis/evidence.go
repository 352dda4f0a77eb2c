package analysis

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/belay-dev/belay/internal/spec"
)

// evidence lists every check's numbers at now: triggers, the sequential
// tests, sample-ratio mismatch and power (when comparing), and the
// canary's health.
func (a *Analyzer) evidence(cfg Config, weight float64, need int64) []Evidence {
	st := &a.State
	c, s := st.Canary.Total, st.Stable.Total
	var ev []Evidence
	for i, ts := range st.Triggers {
		e := Evidence{Check: cfg.Triggers[i].Raw, State: ts.Label(), Canary: finite(ts.Value),
			Baseline: finite(ts.Baseline), Threshold: finite(ts.Threshold), CanaryN: ts.N, StableN: ts.BaselineN}
		if n := cfg.Triggers[i].Named; n != nil {
			e.Kind = n.Kind
		}
		ev = append(ev, e)
	}
	if st.Started.IsZero() {
		return ev
	}
	health := []Evidence{
		{Check: "health_check_failures", State: StateOK, Canary: float64(c.Health), Baseline: float64(s.Health)},
		{Check: "restarts", State: StateOK, Canary: float64(c.Restarts), Baseline: float64(s.Restarts)},
	}
	if !cfg.Compares(weight) {
		return append(ev, health...)
	}
	eErr, eLat, comb := a.sequential(cfg)
	ev = append(ev, Evidence{Check: "sequential:errors", State: seqState(eErr, cfg), Canary: rate(c.Errors, c.Requests),
		Baseline: rate(s.Errors, s.Requests), Threshold: 1 / cfg.Alpha, Statistic: finite(eErr), CanaryN: c.Requests, StableN: s.Requests})
	for k, th := range st.Thresholds {
		i := bucketAt(st.Bounds, th)
		var sc, ss int64
		if len(c.Latency) == len(st.Bounds)+1 && len(s.Latency) == len(st.Bounds)+1 {
			sc, ss = slower(c.Latency, i), slower(s.Latency, i)
		}
		e := st.Latency[k].EValue()
		ev = append(ev, Evidence{Check: "sequential:latency>" + time.Duration(th*float64(time.Second)).Round(time.Microsecond).String(), State: seqState(e, cfg),
			Canary: rate(sc, c.Requests), Baseline: rate(ss, s.Requests), Threshold: 1 / cfg.Alpha, Statistic: finite(e), CanaryN: c.Requests, StableN: s.Requests})
	}
	if len(st.Bounds) > 0 {
		ev = append(ev, Evidence{Check: "sequential:latency", State: seqState(eLat, cfg), Threshold: 1 / cfg.Alpha, Statistic: finite(eLat)})
	}
	ev = append(ev, Evidence{Check: "sequential:combined", State: map[bool]string{true: StateFiring, false: StateOK}[comb.Reject],
		Threshold: 1 / cfg.Alpha, Statistic: finite(comb.Average)})
	srm := Evidence{Check: "srm", State: StateOK, Canary: rate(c.Requests, c.Requests+s.Requests), Baseline: weight / 100,
		Threshold: 1 / srmLevel(cfg), Statistic: finite(st.SRM.EValue()), CanaryN: c.Requests, StableN: s.Requests}
	if st.SRMFlagged {
		srm.State = StateFiring
	}
	pw := Evidence{Check: "power", State: StatePending, Canary: float64(c.Requests), Threshold: float64(min(need, 1<<53)), CanaryN: c.Requests}
	if c.Requests >= need {
		pw.State = StatePassed
	}
	ev = append(ev, srm, pw)
	ev = append(ev, a.compared(cfg)...)
	return append(ev, health...)
}

// compared shows each Config.Compared metric's canary and stable values
// read at this tick, when both were read.
func (a *Analyzer) compared(cfg Config) []Evidence {
	var ev []Evidence
	for _, name := range slices.Sorted(maps.Keys(cfg.Compared)) {
		c, okC := a.named[name][cfg.Canary]
		s, okS := a.named[name][cfg.Stable]
		if okC && okS {
			ev = append(ev, Evidence{Check: "metric:" + name, State: StateOK, Canary: finite(c), Baseline: finite(s), Kind: cfg.Compared[name].Kind})
		}
	}
	return ev
}

func seqState(e float64, cfg Config) string {
	if e >= 1/cfg.Alpha {
		return StateFiring
	}
	return StateOK
}

func rate(k, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(k) / float64(n)
}

// format writes a metric value in the trigger grammar's units.
func format(k spec.Kind, v float64) string {
	switch k {
	case spec.KindRatio:
		return strconv.FormatFloat(v*100, 'g', 4, 64) + "%"
	case spec.KindDuration:
		return strconv.FormatFloat(v*1000, 'g', 4, 64) + "ms"
	}
	return fmt.Sprint(v)
}
