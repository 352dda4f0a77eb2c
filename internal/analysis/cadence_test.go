package analysis_test

import (
	"slices"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/replay"
)

// Looking more often must not cost evidence: at 1 canary request a second,
// 250 ms ticks hold zero or one canary request each, and judging a tick's
// events at that tick's own split would throw most of each error's weight
// away. The median canary requests to roll back a 10 % error rate must be
// about the same at 250 ms ticks as at 1 s ticks (same seeds).
func TestTickLengthDoesNotCostEvidence(t *testing.T) {
	if testing.Short() {
		t.Skip("200 simulated canaries per tick length")
	}
	at := func(tick time.Duration) float64 {
		var reqs []float64
		for seed := range uint64(100) {
			a := newAnalyzer(t, analysis.Config{MaxDuration: 24 * time.Hour})
			s := replay.New(seed, t0,
				replay.Arm{Version: "stable", Rate: 19, ErrorRate: 0.001},
				replay.Arm{Version: "canary", Rate: 1, ErrorRate: 0.10})
			a.Step(analysis.Observation{Counters: s.Counters(), Weight: 5}, s.Now())
			for el := tick; el <= time.Hour; el += tick {
				s.Advance(tick)
				if a.Step(analysis.Observation{Counters: s.Counters(), Weight: 5}, s.Now()).Decision == analysis.Fail {
					break
				}
			}
			reqs = append(reqs, float64(a.State.Canary.Total.Requests))
		}
		slices.Sort(reqs)
		return (reqs[49] + reqs[50]) / 2
	}
	second, quarter := at(time.Second), at(250*time.Millisecond)
	t.Logf("median canary requests to roll back: %v at 1 s ticks, %v at 250 ms", second, quarter)
	if quarter > 1.2*second {
		t.Fatalf("250 ms ticks needed %v canary requests, 1 s ticks %v: short ticks lose evidence", quarter, second)
	}
}
