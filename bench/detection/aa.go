package main

import (
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/replay"
)

// runAA replays a healthy canary (same error rate and latency as stable) for
// 30 minutes, looking every tick, and reports whether belay rolled it back,
// whether the Flagger-style analysis did within its 25 checks, and whether
// it did with the latency cell's p99 check (≤ 1.2 × stable's p99) added.
func runAA(rate float64, seed uint64, tick time.Duration) [3]bool {
	c := cell{Rate: rate, P0: 0.001, P1: 0.001}
	s := c.newStream(seed)
	a, err := analysis.New(config(analysis.Config{}))
	if err != nil {
		panic(err)
	}
	fl := &flagger{Interval: 60, Threshold: 5, MinSuccess: 0.99}
	flp := &flagger{Interval: 60, Threshold: 5, MinSuccess: 0.99, Bounds: replay.DefaultBounds, MaxP99: 1.2 * stableP99(s)}
	acc, accp := newSecondAccumulator(tick), newSecondAccumulator(tick)
	a.Step(analysis.Observation{Counters: s.Counters(), Weight: 100 * share}, s.Now())
	prev := s.Counters()[1]
	var res [3]bool
	for el := tick; el <= 30*time.Minute; el += tick {
		s.Advance(tick)
		cs := s.Counters()
		if !res[0] && a.Step(analysis.Observation{Counters: cs, Weight: 100 * share}, s.Now()).Decision == analysis.Fail {
			res[0] = true
		}
		if fl.Checks < 25 {
			acc.add(fl, cs[1].Requests-prev.Requests, cs[1].Errors-prev.Errors, nil)
		}
		if flp.Checks < 25 {
			lat := make([]int64, len(cs[1].LatencyCounts))
			for i := range lat {
				lat[i] = cs[1].LatencyCounts[i] - prev.LatencyCounts[i]
			}
			accp.add(flp, cs[1].Requests-prev.Requests, cs[1].Errors-prev.Errors, lat)
		}
		prev = cs[1]
	}
	res[1], res[2] = fl.DoneAt > 0, flp.DoneAt > 0
	return res
}
