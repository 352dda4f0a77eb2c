package analysis

import (
	"time"

	"github.com/belay-dev/belay/internal/target"
)

// advance folds one observation into the state. A comparing step feeds the
// sequential tests the increases since the last tick that had both
// versions (at the canary's realised share, see Share); a step judged by
// its triggers alone takes each version's counts as they come. The
// triggers always see every present version's latest counts.
func (a *Analyzer) advance(cfg Config, weight float64, c, s target.Counters, haveC, haveS bool, now time.Time) {
	st := &a.State
	st.Last = now
	compares := cfg.Compares(weight)
	switch {
	case compares && haveC && haveS:
		a.compare(cfg, weight, c, s)
	case !compares && (haveC || haveS):
		if len(st.Bounds) == 0 {
			a.pickBounds(c, s)
		}
		if haveC {
			st.Canary.observe(rawSample(c, st.Bounds))
		}
		if haveS {
			st.Stable.observe(rawSample(s, st.Bounds))
		}
	}
	cur := Snapshot{At: now, Canary: st.Canary.Total, Stable: st.Stable.Total}
	if compares && haveC != haveS {
		// The present version's increase waits for the tick that has both,
		// so that the realised share is measured over the same interval;
		// the triggers judge it now.
		if haveC {
			cur.Canary = st.Canary.peek(rawSample(c, st.Bounds))
		} else {
			cur.Stable = st.Stable.peek(rawSample(s, st.Bounds))
		}
	}
	st.Window = window(st.Window, cur, cfg.Window)
	a.evaluateTriggers(cfg, cur, haveC, haveS, now)
}

// compare feeds one tick's increases of both versions to the sequential
// tests and the sample-ratio check.
func (a *Analyzer) compare(cfg Config, weight float64, c, s target.Counters) {
	st := &a.State
	if len(st.Bounds) == 0 {
		a.pickBounds(c, s)
	}
	dc := st.Canary.observe(rawSample(c, st.Bounds))
	raw := rawSample(s, st.Bounds)
	ds := st.Stable.observe(raw)
	a.freezeThresholds(cfg, raw)
	rho := st.Share.observe(weight/100, dc.Requests, ds.Requests)
	st.Errors.Update(dc.Errors, ds.Errors, rho, weight/100)
	if len(dc.Latency) == len(st.Bounds)+1 && len(ds.Latency) == len(st.Bounds)+1 {
		for k, th := range st.Thresholds {
			i := bucketAt(st.Bounds, th)
			st.Latency[k].Update(slower(dc.Latency, i), slower(ds.Latency, i), rho, weight/100)
		}
	}
	if weight > 0 && weight < 100 {
		st.SRM.Update(dc.Requests, ds.Requests, weight/100)
		if st.SRM.LogEValue() >= logInv(srmLevel(cfg)) {
			st.SRMFlagged = true
		}
	}
}

// srmLevel is the sample-ratio mismatch test's level: at most 0.1 %, as
// is usual for this check. A flagged split halts a rollout for a person
// (on_srm: pause), and with every canary step running the test, a level
// of α would halt about one healthy release in a hundred per step; a
// broken split at real traffic still shows within seconds.
func srmLevel(cfg Config) float64 { return min(cfg.Alpha, 0.001) }

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

// Share is the canary's realised share of requests over the current segment
// of constant configured weight: under H0 an error (or slow event) came from
// the canary with that probability. It is measured over the segment, not per
// tick: at a few canary requests per tick a tick's own share mostly says
// whether the one canary request that erred was there, which throws the
// evidence away (at 1 canary req/s and 250 ms ticks that cost 1.5× the
// requests). It starts from the configured weight, worth sharePrior canary
// requests, so that the first ticks' noise does not move it; after that it
// follows the real split (sticky routing, ejected instances) that the SRM
// test watches.
type Share struct {
	Weight   float64 `json:"weight,omitempty"` // configured share of the segment, 0–1
	Canary   int64   `json:"canary,omitempty"` // the segment's canary requests
	Requests int64   `json:"requests,omitempty"`
}

// sharePrior is how many canary requests the configured weight is worth.
const sharePrior = 20

// observe adds one tick's requests at configured share w and returns the
// share to judge the tick's events at.
func (s *Share) observe(w float64, nc, ns int64) float64 {
	if w != s.Weight {
		*s = Share{Weight: w}
	}
	s.Canary += nc
	s.Requests += nc + ns
	if !(w > 0 && w < 1) {
		if s.Requests == 0 {
			return w
		}
		return float64(s.Canary) / float64(s.Requests)
	}
	k := sharePrior / w
	return (float64(s.Canary) + k*w) / (float64(s.Requests) + k)
}
