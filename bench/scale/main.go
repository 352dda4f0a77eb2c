// Command scale measures the analysis side of many concurrent rollouts: N
// analyzers, each fed by its own generated source at the engine's tick
// (simulated time, 250 ms by default), for N = 10 … 1 000. It reports CPU
// per rollout (the Step per tick, and the JSON encoding of the state the
// server's judge saves once a second), the share of the CPUs all N take,
// live heap per rollout, and the size of the stored state.
//
//	go run ./bench/scale [-tick 250ms] [-seconds 120] [-n 10,100,1000]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/replay"
	"github.com/belay-dev/belay/internal/server"
	"github.com/belay-dev/belay/internal/spec"
)

type rollout struct {
	a *analysis.Analyzer
	s *replay.Stream
}

func main() {
	tick := flag.Duration("tick", server.DefaultTick, "engine tick: every rollout's analysis steps this often")
	seconds := flag.Int("seconds", 120, "simulated seconds per size")
	sizes := flag.String("n", "10,100,1000", "numbers of concurrent rollouts")
	buckets := flag.Int("buckets", 211, "latency buckets per version (the agent has 211; client_golang's default 11)")
	flag.Parse()
	var trs []analysis.TriggerConfig
	for _, l := range []string{"error_rate > 1% for 5m", "p95_latency > 900ms for 10m", "health_check_failures > 3", "p95_latency > baseline + 20%"} {
		t, err := spec.ParseTrigger(l)
		if err != nil {
			panic(err)
		}
		trs = append(trs, analysis.TriggerConfig{Trigger: t})
	}
	if *tick <= 0 || *tick > time.Second || time.Second%*tick != 0 {
		fmt.Fprintf(os.Stderr, "scale: -tick %s must divide a second\n", *tick)
		os.Exit(2)
	}
	fmt.Printf("%d simulated seconds per size at %s ticks, state saved once a second, %d CPUs; each rollout: 4 triggers, errors + latency + SRM tests, 10 canary req/s, %d latency buckets.\n\n", *seconds, *tick, runtime.GOMAXPROCS(0), *buckets)
	bounds := logBounds(*buckets)
	fmt.Println("| rollouts | Step CPU µs/rollout/tick | JSON state µs/rollout/save | CPU share, all rollouts | heap KiB/rollout | state JSON bytes/rollout |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "scale: -n: %q is not a positive number\n", f)
			os.Exit(2)
		}
		measure(n, *seconds, *tick, trs, bounds)
	}
}

func measure(n, seconds int, tick time.Duration, trs []analysis.TriggerConfig, bounds []float64) {
	perSecond := int(time.Second / tick)
	ticks := seconds * perSecond
	t0 := time.Unix(1_700_000_000, 0)
	rs := make([]rollout, n)
	for i := range rs {
		a, err := analysis.New(analysis.Config{Canary: "v2", Stable: "v1", Triggers: trs, MinDuration: time.Hour})
		if err != nil {
			panic(err)
		}
		s := replay.NewWithBounds(uint64(i), t0, bounds, replay.Arm{Version: "v1", Rate: 190, ErrorRate: 0.001}, replay.Arm{Version: "v2", Rate: 10, ErrorRate: 0.001})
		rs[i] = rollout{a, s}
	}
	obs := make([]analysis.Observation, n)
	var step, enc time.Duration
	var bytes int
	for tk := 0; tk <= ticks; tk++ {
		for i := range rs { // generating the sources' counters is not the analysis' cost
			rs[i].s.Advance(tick)
			obs[i] = analysis.Observation{Counters: rs[i].s.Counters(), Weight: 5}
		}
		now := t0.Add(time.Duration(tk) * tick)
		step += timed(rs, func(r rollout, i int) { r.a.Step(obs[i], now) })
		if tk%perSecond != 0 {
			continue
		}
		enc += timed(rs, func(r rollout, i int) {
			b, _ := json.Marshal(r.a)
			if i == 0 {
				bytes = len(b)
			}
		})
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap := ms.HeapAlloc
	streams := make([]*replay.Stream, n)
	for i := range rs {
		streams[i] = rs[i].s
		rs[i].a = nil
	}
	runtime.GC()
	var ms2 runtime.MemStats
	runtime.ReadMemStats(&ms2)
	perStep := step.Seconds() * 1e6 / float64(n*(ticks+1))
	perEnc := enc.Seconds() * 1e6 / float64(n*(seconds+1))
	fmt.Printf("| %d | %.1f | %.1f | %.2f %% | %.1f | %d |\n", n, perStep, perEnc,
		100*(perStep*float64(perSecond)+perEnc)*float64(n)/1e6/float64(runtime.GOMAXPROCS(0)),
		float64(int64(heap)-int64(ms2.HeapAlloc))/1024/float64(n), bytes)
	runtime.KeepAlive(streams)
}

// timed runs f over all rollouts on all CPUs and returns the CPU time spent
// (wall time × workers, which is what a dedicated pool would burn).
func timed(rs []rollout, f func(rollout, int)) time.Duration {
	workers := runtime.GOMAXPROCS(0)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(rs); i += workers {
				f(rs[i], i)
			}
		})
	}
	wg.Wait()
	return time.Since(start) * time.Duration(workers)
}

// logBounds spreads n bucket bounds log-evenly from 1 ms to 60 s.
func logBounds(n int) []float64 {
	b := make([]float64, n)
	for i := range b {
		b[i] = 0.001 * math.Pow(60000, float64(i)/float64(max(n-1, 1)))
	}
	return b
}
