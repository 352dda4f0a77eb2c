package main

import "testing"

func TestFlaggerNeedsIntervalTimesThreshold(t *testing.T) {
	f := &flagger{Interval: 60, Threshold: 5, MinSuccess: 0.99}
	for s := 1; s <= 600; s++ {
		if f.tick(10, 1, nil) { // 10 % errors: every check fails
			break
		}
	}
	if f.DoneAt != 300 || f.Checks != 5 || f.ErrorsAt != 300 {
		t.Errorf("rolled back at %d s after %d checks with %d errors; want 300 s, 5 checks, 300 errors", f.DoneAt, f.Checks, f.ErrorsAt)
	}
	g := &flagger{Interval: 60, Threshold: 5, MinSuccess: 0.99}
	for range 3600 {
		g.tick(100, 0, nil)
	}
	if g.DoneAt != 0 || g.Failed != 0 {
		t.Errorf("healthy canary failed %d checks", g.Failed)
	}
	h := &flagger{Interval: 60, Threshold: 1, MinSuccess: 0.99, MaxP99: 0.1, Bounds: []float64{0.1, 0.2}}
	for range 60 {
		h.tick(10, 0, []int64{5, 5, 0})
	}
	if h.DoneAt != 60 {
		t.Errorf("p99 check: half the requests over 0.1 s must fail it; done at %d", h.DoneAt)
	}
}
