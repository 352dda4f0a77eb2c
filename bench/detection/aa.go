package main

import (
	"time"

	"github.com/belay-dev/belay/internal/analysis"
)

// runAA replays a healthy canary (same error rate and latency as stable) for
// 30 minutes, looking every tick, and reports whether belay rolled it back
// and whether the Flagger-style analysis did within its 25 checks.
func runAA(rate float64, seed uint64, tick time.Duration) [2]bool {
	c := cell{Rate: rate, P0: 0.001, P1: 0.001}
	s := c.newStream(seed)
	a, err := analysis.New(config(analysis.Config{}))
	if err != nil {
		panic(err)
	}
	fl := &flagger{Interval: 60, Threshold: 5, MinSuccess: 0.99}
	acc := newSecondAccumulator(tick)
	a.Step(analysis.Observation{Counters: s.Counters(), Weight: 100 * share}, s.Now())
	prev := s.Counters()[1]
	var res [2]bool
	for el := tick; el <= 30*time.Minute; el += tick {
		s.Advance(tick)
		cs := s.Counters()
		if !res[0] && a.Step(analysis.Observation{Counters: cs, Weight: 100 * share}, s.Now()).Decision == analysis.Fail {
			res[0] = true
		}
		if fl.Checks < 25 {
			acc.add(fl, cs[1].Requests-prev.Requests, cs[1].Errors-prev.Errors, nil)
		}
		prev = cs[1]
	}
	res[1] = fl.DoneAt > 0
	return res
}
