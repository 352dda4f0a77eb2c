package analysis_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/replay"
)

// A/A: canary identical to stable, looked at every second for 5 minutes,
// with the weight moving from 5 % to 20 % halfway in half of the runs. The
// fraction rolled back must stay at or under α however often we look.
func TestAAFalseRollbacksAtMostAlpha(t *testing.T) {
	if testing.Short() {
		t.Skip("A/A simulation: 2 000 runs")
	}
	aa(t, analysis.TestMixtureSPRT, 2000, 300, 10)
}

// A/A where the proxy's real split is not the configured weight (sticky
// clients, say: the canary gets 7 % of requests at weight 5 %). The test
// judges events at the realised share, so the healthy canary's larger
// share of errors is not taken for a regression.
func TestAAUnevenSplit(t *testing.T) {
	if testing.Short() {
		t.Skip("A/A simulation: 2 000 runs")
	}
	aa(t, analysis.TestMixtureSPRT, 2000, 300, 14)
	aa(t, analysis.TestBeta, 2000, 120, 14)
}

// The same for the Beta mixture, whose segments change with the weight.
func TestAABetaMixture(t *testing.T) {
	if testing.Short() {
		t.Skip("A/A simulation: 2 000 runs")
	}
	aa(t, analysis.TestBeta, 2000, 120, 10)
}

// aa runs A/A at weight 5 % with the canary getting canaryRate of every
// 200 requests a second.
func aa(t *testing.T, test analysis.Test, runs int64, ticks int, canaryRate float64) {
	const alpha = 0.01
	var fails, events atomic.Int64
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				seed := next.Add(1) - 1
				if seed >= runs {
					return
				}
				a := newAnalyzer(t, analysis.Config{Alpha: alpha, Test: test})
				s := replay.New(uint64(seed), t0,
					replay.Arm{Version: "stable", Rate: 200 - canaryRate, ErrorRate: 0.02},
					replay.Arm{Version: "canary", Rate: canaryRate, ErrorRate: 0.02})
				weight := 5.0
				a.Step(analysis.Observation{Counters: s.Counters(), Weight: weight}, s.Now())
				for i := 1; i <= ticks; i++ {
					if i == ticks/2 && seed%2 == 1 {
						weight = 20
						s.SetRate(0, 200-4*canaryRate)
						s.SetRate(1, 4*canaryRate)
					}
					s.Advance(time.Second)
					v := a.Step(analysis.Observation{Counters: s.Counters(), Weight: weight}, s.Now())
					if v.Decision == analysis.Fail {
						fails.Add(1)
						break
					}
				}
				events.Add(a.State.Canary.Total.Errors + a.State.Stable.Total.Errors)
			}
		})
	}
	wg.Wait()
	rate := float64(fails.Load()) / float64(runs)
	t.Logf("A/A %s: %d of %d runs rolled back (%.2f %%, α = %g %%), %d error events per run", test, fails.Load(), runs, 100*rate, 100*alpha, events.Load()/int64(runs))
	if rate > alpha {
		t.Errorf("false rollbacks %.2f %% > α = %g %%", 100*rate, 100*alpha)
	}
}
