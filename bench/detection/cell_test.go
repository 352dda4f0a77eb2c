package main

import (
	"math"
	"testing"
	"time"
)

// One run of a strong regression: all three analyses roll back, belay and
// the optimum within seconds, Flagger only after 5 one-minute checks.
func TestRunOneDetects(t *testing.T) {
	o := runOne(cell{Rate: 10, P0: 0.001, P1: 0.10, Mode: "replay"}, 1, time.Second, time.Hour)
	if math.IsInf(o.BelaySec, 1) || o.BelaySec > 30 || math.IsInf(o.OptReq, 1) || o.FlagSec != 300 {
		t.Errorf("%+v", o)
	}
	if o.BelayReq < o.OptReq/2 {
		t.Errorf("belay used %v requests, far fewer than the optimum's %v: the streams are not the same", o.BelayReq, o.OptReq)
	}
	if aa := runAA(10, 5, time.Second); aa[0] {
		t.Error("a healthy canary rolled back (seed 5)")
	}
}
