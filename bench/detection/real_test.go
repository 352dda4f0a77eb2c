package main

import (
	"math"
	"testing"
	"time"
)

// One real canary failing 10 % of 100 req/s behind the agent's proxy is
// rolled back within seconds, on the agent's own counters.
func TestRealCanaryDetects(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/hello and runs it behind a real agent")
	}
	b, err := newRealBench()
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	o, err := b.run(cell{Rate: 100, P0: 0.001, P1: 0.10, Mode: "real"}, 1, time.Second, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if math.IsInf(o.BelaySec, 1) || o.BelaySec > 20 || o.BelayReq < 20 || o.BelayFailed < 1 {
		t.Errorf("%+v", o)
	}
	if math.IsInf(o.OptReq, 1) {
		t.Errorf("Wald's SPRT on the same requests never decided: %+v", o)
	}
}
