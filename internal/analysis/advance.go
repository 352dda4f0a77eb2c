package analysis

import (
	"time"

	"github.com/belay-dev/belay/internal/target"
)

// advance folds one observation into the state: increases since the last
// tick feed the sequential tests (at this tick's realised canary share) and
// the trigger window.
func (a *Analyzer) advance(cfg Config, weight float64, c, s target.Counters, haveC, haveS bool, now time.Time) {
	st := &a.State
	st.Last = now
	if !haveC || !haveS {
		// Keep the present version's increase for the tick that has both, so
		// that the realised share is measured over the same interval.
		a.evaluateTriggers(cfg, false, false, now)
		return
	}
	if len(st.Bounds) == 0 {
		a.pickBounds(c, s)
	}
	dc := st.Canary.observe(rawSample(c, st.Bounds))
	raw := rawSample(s, st.Bounds)
	ds := st.Stable.observe(raw)
	a.freezeThresholds(cfg, raw)
	rho := weight / 100
	if n := dc.Requests + ds.Requests; n > 0 {
		// Conditional on this tick's requests, an event under H0 came from the
		// canary with probability n_c/n whatever the weights were.
		rho = float64(dc.Requests) / float64(n)
	}
	st.Errors.Update(dc.Errors, ds.Errors, rho, weight/100)
	if len(dc.Latency) == len(st.Bounds)+1 && len(ds.Latency) == len(st.Bounds)+1 {
		for k, th := range st.Thresholds {
			i := bucketAt(st.Bounds, th)
			st.Latency[k].Update(slower(dc.Latency, i), slower(ds.Latency, i), rho, weight/100)
		}
	}
	if weight > 0 && weight < 100 {
		st.SRM.Update(dc.Requests, ds.Requests, weight/100)
		if st.SRM.LogEValue() >= logInv(cfg.Alpha) {
			st.SRMFlagged = true
		}
	}
	st.Window = window(st.Window, Snapshot{At: now, Canary: st.Canary.Total, Stable: st.Stable.Total}, cfg.Window)
	a.evaluateTriggers(cfg, haveC, haveS, now)
}

// pickBounds adopts the first histogram seen after the start; both versions'
// histograms so far become the starting point, not an increase.
func (a *Analyzer) pickBounds(c, s target.Counters) {
	st := &a.State
	for _, cs := range []target.Counters{s, c} {
		if h := normalizeHistogram(cs.LatencyBounds, cs.LatencyCounts); len(st.Bounds) == 0 && len(h.Bounds) > 0 {
			st.Bounds = h.Bounds
		}
	}
	if len(st.Bounds) == 0 {
		return
	}
	st.Canary.Raw.Latency = rawSample(c, st.Bounds).Latency
	st.Stable.Raw.Latency = rawSample(s, st.Bounds).Latency
}
