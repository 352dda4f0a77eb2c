package analysis

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/target"
)

// A shadow step (Config.Shadow) judges the new version on mirrored copies of
// requests that stable answered: each copy is a pair of outcomes on the same
// input, counted by the target (target.ShadowCounters). No user reaches the
// new version, so the rollback triggers, which judge what users got, have
// nothing to judge; the step is judged by paired sequential tests instead,
// on errors and on slow answers at thresholds frozen from stable's side of
// the pairs, combined as the canary's tests are (Combine at Alpha).

// PairState is what a shadow step learned.
type PairState struct {
	// Last is the target's cumulative counts at the last tick; the step
	// adds their increase. A count that went down (the agent restarted and
	// its counters began again) is taken as a new base.
	Last target.ShadowCounters `json:"last"`
	// Pairs, StableFailed and NewFailed count the step's pairs and their
	// failures per side; Dropped the copies not made.
	Pairs        int64 `json:"pairs"`
	StableFailed int64 `json:"stable_failed"`
	NewFailed    int64 `json:"new_failed"`
	Dropped      int64 `json:"dropped"`
	// Unserved counts copies dropped because the new version had no healthy
	// instance: each is a request that version would have failed, so it
	// counts as a pair stable won (and is in Pairs and NewFailed).
	Unserved int64 `json:"unserved,omitempty"`
	// StableLatency is stable's side of the step's pairs, in Bounds.
	StableLatency []int64  `json:"stable_latency,omitempty"`
	Errors        Paired   `json:"errors"`
	Slow          []Paired `json:"slow,omitempty"` // one per State.Thresholds
	// SlowIndex are the bound indexes of State.Thresholds.
	SlowIndex []int `json:"slow_index,omitempty"`
}

// shadowStep is Step for a shadow step; obs.Err was handled by the caller.
func (a *Analyzer) shadowStep(cfg Config, obs Observation, now time.Time) Verdict {
	st := &a.State
	c, _ := findCounters(obs.Counters, cfg.Canary)
	var cur target.ShadowCounters
	if c.Shadow != nil {
		cur = *c.Shadow
	}
	if st.Started.IsZero() {
		st.Started, st.Last = now, now
		st.Pairs = &PairState{Last: cur, Errors: Paired{K: cfg.BetaK}}
		if len(c.LatencyBounds) > 0 {
			st.Bounds = normalizeHistogram(c.LatencyBounds, c.LatencyCounts).Bounds
		}
		return Verdict{Decision: Continue, At: now, Reason: "shadow analysis started", Evidence: a.shadowEvidence(cfg)}
	}
	st.Last = now
	a.addPairs(cfg, cur)
	return a.shadowDecide(cfg, now)
}

// addPairs takes the increase from the last counts to cur.
func (a *Analyzer) addPairs(cfg Config, cur target.ShadowCounters) {
	st := &a.State
	p := st.Pairs
	prev := p.Last
	p.Last = cur
	d := func(now, before int64) int64 { return now - before }
	inc := []int64{d(cur.BothOK, prev.BothOK), d(cur.NewFailed, prev.NewFailed), d(cur.StableFailed, prev.StableFailed), d(cur.BothFailed, prev.BothFailed)}
	for _, n := range inc {
		if n < 0 {
			return // the counters began again: cur is the new base
		}
	}
	p.Pairs += inc[0] + inc[1] + inc[2] + inc[3]
	p.NewFailed += inc[1] + inc[3]
	p.StableFailed += inc[2] + inc[3]
	p.Errors.NewWorse += inc[1]
	p.Errors.StableWorse += inc[2]
	p.Dropped += max(0, dropped(cur)-dropped(prev))
	if n := cur.Dropped[noInstance] - prev.Dropped[noInstance]; n > 0 {
		p.Unserved += n
		p.Pairs += n
		p.NewFailed += n
		p.Errors.NewWorse += n
	}
	if len(cur.StableLatencyCounts) == len(st.Bounds)+1 && len(prev.StableLatencyCounts) == len(cur.StableLatencyCounts) {
		if p.StableLatency == nil {
			p.StableLatency = make([]int64, len(cur.StableLatencyCounts))
		}
		for i := range cur.StableLatencyCounts {
			p.StableLatency[i] += max(0, cur.StableLatencyCounts[i]-prev.StableLatencyCounts[i])
		}
	}
	for k, i := range p.SlowIndex {
		if i < len(cur.NewSlower) && i < len(prev.NewSlower) && i < len(cur.StableSlower) && i < len(prev.StableSlower) {
			p.Slow[k].NewWorse += max(0, cur.NewSlower[i]-prev.NewSlower[i])
			p.Slow[k].StableWorse += max(0, cur.StableSlower[i]-prev.StableSlower[i])
		}
	}
	a.freezePairThresholds(cfg)
}

// noInstance is the drop reason of a copy the new version had no healthy
// instance for (the agent's proxy's name for it).
const noInstance = "no_instance"

func dropped(c target.ShadowCounters) int64 {
	var n int64
	for _, v := range c.Dropped {
		n += v
	}
	return n
}

// freezePairThresholds fixes the slow thresholds from stable's side of the
// step's pairs, once there are MinBaselineRequests of them, as the canary's
// are fixed from stable's requests; slow pairs count from then on.
func (a *Analyzer) freezePairThresholds(cfg Config) {
	st := &a.State
	p := st.Pairs
	if len(p.SlowIndex) > 0 || p.StableLatency == nil || p.Pairs < cfg.MinBaselineRequests {
		return
	}
	seen := map[int]bool{}
	for _, q := range cfg.LatencyQuantiles {
		v, ok := quantile(q, st.Bounds, p.StableLatency)
		v = max(v*(1+cfg.LatencyTolerance), cfg.LatencyFloor.Seconds(), cfg.ShadowLatencyFloor.Seconds())
		i := bucketAt(st.Bounds, v)
		if !ok || i < 0 || seen[i] {
			continue
		}
		seen[i] = true
		st.Thresholds = append(st.Thresholds, st.Bounds[i])
		p.SlowIndex = append(p.SlowIndex, i)
		p.Slow = append(p.Slow, Paired{K: cfg.BetaK})
	}
}

// pairTests gives the errors e-value, the latency e-value (the mean over
// thresholds, 1 before they are frozen) and the combined rule, as sequential
// does for a canary.
func (p *PairState) tests(cfg Config) (eErr, eLat float64, c Combined) {
	eErr, eLat = math.Exp(p.Errors.LogEValue()), 1
	if len(p.Slow) > 0 {
		eLat = 0
	}
	for _, s := range p.Slow {
		eLat += math.Exp(s.LogEValue()) / float64(len(p.Slow))
	}
	return eErr, eLat, Combine([]float64{eErr, eLat}, []float64{1 - cfg.LatencyWeight, cfg.LatencyWeight}, cfg.Alpha)
}

// requiredPairs is the pairs a pass needs: as many as a canary at half the
// traffic would need to catch an error rate MinEffect times stable's.
func (p *PairState) requiredPairs(cfg Config) int64 {
	return max(RequiredCanaryRequests(rate(p.StableFailed, p.Pairs), cfg.BaselineFloor, cfg.MinEffect, 0.5, cfg.Alpha, cfg.Ratios), cfg.MinCanaryRequests)
}

// shadowDecide fails the step when the paired tests reject, passes it once
// it held MinDuration with the pairs a pass needs, and is inconclusive (the
// low-traffic policy) at MaxDuration.
func (a *Analyzer) shadowDecide(cfg Config, now time.Time) Verdict {
	st := &a.State
	p := st.Pairs
	v := Verdict{At: now, Evidence: a.shadowEvidence(cfg)}
	eErr, eLat, comb := p.tests(cfg)
	if comb.Reject {
		v.Decision, v.Trigger = Fail, "shadow:errors"
		if comb.MaxIndex == 1 {
			v.Trigger = "shadow:latency"
		}
		v.Reason = fmt.Sprintf("%s worse than %s on the same requests (mirrored or replayed): of %d pairs, %d failed only on %s and %d only on %s; e-values errors %.3g, latency %.3g (threshold %.3g at α = %g)",
			cfg.Canary, cfg.Stable, p.Pairs, p.Errors.NewWorse, cfg.Canary, p.Errors.StableWorse, cfg.Stable, eErr, eLat, 1/cfg.Alpha, cfg.Alpha)
		if p.Unserved > 0 {
			v.Reason += fmt.Sprintf("; %d copies found no healthy instance of %s and count as its failures", p.Unserved, cfg.Canary)
		}
		st.Final = &v
		return v
	}
	var waiting []string
	if held := now.Sub(st.Started); held < cfg.MinDuration {
		waiting = append(waiting, fmt.Sprintf("the step's minimum duration (%s left)", (cfg.MinDuration-held).Round(time.Second)))
	}
	if need := p.requiredPairs(cfg); p.Pairs < need {
		waiting = append(waiting, fmt.Sprintf("%d more mirrored pairs (%d of %s)", need-p.Pairs, p.Pairs, count(need)))
	}
	switch {
	case len(waiting) == 0:
		v.Decision = Pass
		v.Reason = fmt.Sprintf("%s no worse than %s on the same %d requests (mirrored or replayed): %d failed only on %s, %d only on %s; e-value %.3g below %.3g",
			cfg.Canary, cfg.Stable, p.Pairs, p.Errors.NewWorse, cfg.Canary, p.Errors.StableWorse, cfg.Stable, comb.Average, 1/cfg.Alpha)
	case now.Sub(st.Started) >= cfg.MaxDuration:
		v.Decision, v.Policy = Inconclusive, cfg.OnLowTraffic
		v.Reason = "inconclusive after " + cfg.MaxDuration.String() + ": still waiting for " + strings.Join(waiting, ", ")
		if p.Dropped > 0 {
			v.Reason += fmt.Sprintf(" (%d copies dropped by the mirror's bounds)", p.Dropped)
		}
	default:
		v.Decision = Continue
		v.Reason = "waiting for " + strings.Join(waiting, ", ")
	}
	return v
}

// shadowEvidence lists the paired tests' numbers: Canary and Baseline are
// the failure (or slow) rates of each side over the pairs, NewWorse and
// StableWorse the discordant pairs.
func (a *Analyzer) shadowEvidence(cfg Config) []Evidence {
	st := &a.State
	p := st.Pairs
	if p == nil {
		return nil
	}
	eErr, eLat, comb := p.tests(cfg)
	ev := []Evidence{{Check: "shadow:errors", State: seqState(eErr, cfg), Canary: rate(p.NewFailed, p.Pairs), Baseline: rate(p.StableFailed, p.Pairs),
		Threshold: 1 / cfg.Alpha, Statistic: finite(eErr), CanaryN: p.Pairs, StableN: p.Pairs, NewWorse: p.Errors.NewWorse, StableWorse: p.Errors.StableWorse}}
	for k, th := range st.Thresholds {
		if k >= len(p.Slow) {
			break
		}
		s := p.Slow[k]
		e := math.Exp(s.LogEValue())
		ev = append(ev, Evidence{Check: "shadow:latency>" + time.Duration(th*float64(time.Second)).Round(time.Microsecond).String(), State: seqState(e, cfg),
			Threshold: 1 / cfg.Alpha, Statistic: finite(e), CanaryN: p.Pairs, StableN: p.Pairs, NewWorse: s.NewWorse, StableWorse: s.StableWorse})
	}
	ev = append(ev, Evidence{Check: "shadow:latency", State: seqState(eLat, cfg), Threshold: 1 / cfg.Alpha, Statistic: finite(eLat)},
		Evidence{Check: "shadow:combined", State: map[bool]string{true: StateFiring, false: StateOK}[comb.Reject], Threshold: 1 / cfg.Alpha, Statistic: finite(comb.Average)})
	need := p.requiredPairs(cfg)
	pw := Evidence{Check: "shadow:pairs", State: StatePending, Canary: float64(p.Pairs), Threshold: float64(min(need, 1<<53)), CanaryN: p.Pairs}
	if p.Pairs >= need {
		pw.State = StatePassed
	}
	drop := Evidence{Check: "shadow:dropped", State: StateOK, Canary: float64(p.Dropped), CanaryN: p.Pairs}
	ev = append(ev, pw, drop)
	if p.Unserved > 0 {
		ev = append(ev, Evidence{Check: "shadow:unserved", State: StateFiring, Canary: float64(p.Unserved), CanaryN: p.Pairs})
	}
	return ev
}
