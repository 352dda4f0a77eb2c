package main

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/replay"
	"github.com/belay-dev/belay/internal/target"
)

// cell is one row of the grid.
type cell struct {
	Rate      float64 // canary requests per second
	P0, P1    float64 // error rates of stable and canary
	SlowShare float64 // latency regression: this share of canary requests takes ×2
	Mode      string  // "replay", or "agent" once real canaries run through the agent
}

const share = 0.05 // canary weight

// outcome is one run of one cell, for the three analyses on the same stream.
type outcome struct {
	BelaySec, BelayReq, BelayFailed float64 // +Inf when never rolled back
	OptReq, OptFailed               float64
	BoundReq                        float64 // Wald's SPRT on canary-vs-stable events with θ known
	FlagSec, FlagFailed             float64
}

func (c cell) arms() []replay.Arm {
	return []replay.Arm{
		{Version: "stable", Rate: c.Rate / share, ErrorRate: c.P0},
		{Version: "canary", Rate: 0, ErrorRate: c.P1, SlowShare: c.SlowShare, SlowFactor: 2},
	}
}

// newStream gives stable 10 minutes of history (the canary's latency
// thresholds are frozen from it), then starts the canary at its rate.
func (c cell) newStream(seed uint64) *replay.Stream {
	s := replay.New(seed, time.Unix(1_700_000_000, 0), c.arms()...)
	for range 600 {
		s.Advance(time.Second)
	}
	s.SetRate(0, c.Rate*(1-share)/share)
	s.SetRate(1, c.Rate)
	return s
}

// optimumSignal is what Wald's SPRT watches: errors for an error
// regression; for a latency one, slow events over the bound where the
// canary's known shift is most informative.
func (c cell) optimumSignal() (bound int, q0, q1 float64) {
	if c.SlowShare == 0 {
		return -1, c.P0, c.P1
	}
	st, ca := replay.BucketProbs(c.arms()[0]), replay.BucketProbs(replay.Arm{SlowShare: c.SlowShare, SlowFactor: 2})
	best := -1.0
	for i := range replay.DefaultBounds {
		var a, b float64
		for _, p := range st[i+1:] {
			a += p
		}
		for _, p := range ca[i+1:] {
			b += p
		}
		if a <= 0 || a >= 1 {
			continue
		}
		if kl := b*math.Log(b/a) + (1-b)*math.Log((1-b)/(1-a)); kl > best {
			best, bound, q0, q1 = kl, i, a, b
		}
	}
	return bound, q0, q1
}

// runOne replays one stream through belay's analyzer, Wald's SPRT and a
// Flagger-style analysis, until all three decided or the horizon.
func runOne(c cell, seed uint64, tick, horizon time.Duration) outcome {
	s := c.newStream(seed)
	a, err := analysis.New(config(analysis.Config{MinDuration: time.Minute}))
	if err != nil {
		panic(err)
	}
	bound, q0, q1 := c.optimumSignal()
	wald := analysis.NewWald(q0, q1, 0.01, 0.01)
	order := rand.New(rand.NewPCG(seed, 77))
	fl := &flagger{Interval: 60, Threshold: 5, MinSuccess: 0.99, Bounds: replay.DefaultBounds}
	if c.SlowShare > 0 {
		fl.MaxP99 = 1.2 * stableP99(s)
	}
	bnd := newModelBound(share, q0, q1, seed)
	out := outcome{math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1)}
	a.Step(analysis.Observation{Counters: s.Counters(), Weight: 100 * share}, s.Now())
	prev := s.Counters()[1]
	var optErrs int64
	optDone, belayDone := false, false
	flagAcc := newSecondAccumulator(tick)
	prevStable := s.Counters()[0]
	for el := tick; el <= horizon && !(optDone && belayDone && fl.DoneAt > 0 && bnd.done); el += tick {
		s.Advance(tick)
		cs := s.Counters()
		cur := cs[1]
		if !bnd.done {
			bnd.observe(bound, prev, cur, prevStable, cs[0], &out)
		}
		prevStable = cs[0]
		if !belayDone {
			if v := a.Step(analysis.Observation{Counters: cs, Weight: 100 * share}, s.Now()); v.Decision == analysis.Fail {
				belayDone = true
				out.BelaySec, out.BelayReq = el.Seconds(), float64(a.State.Canary.Total.Requests)
				out.BelayFailed = failed(c, a.State.Canary.Total.Errors, a.State.Canary.Total.Requests)
			}
		}
		n, k := cur.Requests-prev.Requests, cur.Errors-prev.Errors
		if bound >= 0 {
			k = slowerThan(cur.LatencyCounts, bound) - slowerThan(prev.LatencyCounts, bound)
		}
		if !optDone {
			// The tick's k events fall among its n requests in random order.
			for i := n; i > 0 && !optDone; i-- {
				isEvent := order.Float64()*float64(i) < float64(k)
				if isEvent {
					k--
					optErrs++
				}
				if d := wald.Observe(isEvent); d != 0 {
					optDone = true
					if d > 0 {
						out.OptReq = float64(wald.Requests)
						out.OptFailed = failed(c, optErrs, wald.Requests)
					}
				}
			}
		}
		lat := make([]int64, len(cur.LatencyCounts))
		for i := range lat {
			lat[i] = cur.LatencyCounts[i] - prev.LatencyCounts[i]
		}
		flagAcc.add(fl, cur.Requests-prev.Requests, cur.Errors-prev.Errors, lat)
		if fl.DoneAt > 0 && math.IsInf(out.FlagSec, 1) {
			out.FlagSec = float64(fl.DoneAt)
			out.FlagFailed = failed(c, fl.ErrorsAt, fl.RequestsN)
		}
		prev = cur
	}
	return out
}

// baseConfig is the analysis every run uses; flags adjust it.
var baseConfig = analysis.Config{Canary: "canary", Stable: "stable", MaxDuration: 24 * time.Hour}

func config(c analysis.Config) analysis.Config {
	b := baseConfig
	if c.MinDuration != 0 {
		b.MinDuration = c.MinDuration
	}
	return b
}

// failed is the user requests a regression hurt: errors for an error
// regression, the slowed share of requests for a latency one.
func failed(c cell, errs, reqs int64) float64 {
	if c.SlowShare > 0 {
		return c.SlowShare * float64(reqs)
	}
	return float64(errs)
}

func slowerThan(counts []int64, i int) int64 {
	var n int64
	for _, c := range counts[i+1:] {
		n += c
	}
	return n
}

func stableP99(s *replay.Stream) float64 {
	return p99(replay.DefaultBounds, s.Counters()[0].LatencyCounts)
}

// secondAccumulator feeds the Flagger analysis whole seconds whatever the tick.
type secondAccumulator struct {
	tick, acc  time.Duration
	reqs, errs int64
	lat        []int64
}

func newSecondAccumulator(tick time.Duration) *secondAccumulator {
	return &secondAccumulator{tick: tick}
}

func (s *secondAccumulator) add(f *flagger, reqs, errs int64, lat []int64) {
	s.acc += s.tick
	s.reqs += reqs
	s.errs += errs
	if s.lat == nil {
		s.lat = make([]int64, len(lat))
	}
	for i := range lat {
		s.lat[i] += lat[i]
	}
	for s.acc >= time.Second {
		s.acc -= time.Second
		f.tick(s.reqs, s.errs, s.lat)
		s.reqs, s.errs = 0, 0
		clear(s.lat)
	}
}

// modelBound is the best any test of the reference's model can do: it sees
// only which arm each error (or slow) event came from, as belay's test does,
// but knows the share θ1 of events the canary has under the regression, so
// it is Wald's SPRT of θ = ρ against θ1 on the event stream. Its requests
// over the optimum's are what conditioning on stable costs by itself, before
// not knowing the effect size or guarding several metrics costs anything.
type modelBound struct {
	w     *analysis.Wald
	order *rand.Rand
	reqs  int64
	done  bool
}

func newModelBound(rho, q0, q1 float64, seed uint64) *modelBound {
	theta1 := rho * q1 / (rho*q1 + (1-rho)*q0)
	return &modelBound{w: analysis.NewWald(rho, theta1, 0.01, 0.01), order: rand.New(rand.NewPCG(seed, 78))}
}

// observe feeds one tick: the canary's n requests with their k events, and
// stable's events placed uniformly at random among them.
func (b *modelBound) observe(bound int, prev, cur, prevStable, curStable target.Counters, out *outcome) {
	events := func(p, c target.Counters) int64 {
		if bound >= 0 {
			return slowerThan(c.LatencyCounts, bound) - slowerThan(p.LatencyCounts, bound)
		}
		return c.Errors - p.Errors
	}
	n, k, ks := cur.Requests-prev.Requests, events(prev, cur), events(prevStable, curStable)
	before := make([]int64, n+1) // stable events just before canary request i (i = n: after the last)
	for range ks {
		before[b.order.Int64N(n+1)]++
	}
	for i := int64(0); i <= n && !b.done; i++ {
		for range before[i] {
			if b.w.Observe(false) != 0 {
				b.stop(out)
				return
			}
		}
		if i == n {
			break
		}
		b.reqs++
		isEvent := b.order.Float64()*float64(n-i) < float64(k)
		if !isEvent {
			continue
		}
		k--
		if b.w.Observe(true) != 0 {
			b.stop(out)
		}
	}
}

func (b *modelBound) stop(out *outcome) {
	b.done = true
	if b.w.LogLR >= b.w.Upper {
		out.BoundReq = float64(b.reqs)
	}
}
