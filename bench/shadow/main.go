// Command shadow measures belay's shadow step for real: examples/hello as
// stable and as a new version taking no traffic, behind a belay agent's
// proxy in this process, users' requests at a Poisson rate through the
// proxy, every request mirrored to the new version, and the shadow Analyzer
// ticking on the agent's counters through the builtin source. It prints
// markdown tables: a bad version caught as a shadow and as a 5 % canary
// (and what users paid), A/A shadows, and users' latency while the shadow
// hangs or crashes. Not a test: nothing is asserted.
//
//	go run ./bench/shadow [-runs 20] [-parallel 4] [-limit 60s] [-aa 60s] [-hold 60s] [-cells 1,2,3,4]
//
// A quick smoke run: go run ./bench/shadow -runs 2 -limit 15s -aa 10s -hold 10s
package main

import (
	"flag"
	"fmt"
	"github.com/belay-dev/belay/bench/internal/benchrun"
	"math"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/server"
)

var inf = math.Inf(1)

func main() {
	runs := flag.Int("runs", 20, "runs per cell (bad version as shadow and as canary, A/A)")
	par := flag.Int("parallel", 4, "runs at a time")
	rate := flag.Float64("rate", 200, "users' requests per second (Poisson)")
	tick := flag.Duration("tick", server.DefaultTick, "analysis tick (the server engine's default)")
	limit := flag.Duration("limit", time.Minute, "how long a bad version's run waits for a rollback")
	aa := flag.Duration("aa", time.Minute, "length of an A/A run, and the shadow step's minimum duration there")
	hold := flag.Duration("hold", time.Minute, "length of each hanging/crashing shadow run")
	cells := flag.String("cells", "1,2,3,4", "cells to run: 1 bad shadow, 2 bad canary, 3 A/A shadow, 4 hanging/crashing shadow")
	flag.Parse()
	want := strings.Split(*cells, ",")
	b, err := newBench(*rate, *tick)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/shadow:", err)
		os.Exit(1)
	}
	defer b.close()
	start := time.Now()
	fmt.Printf("Users %g req/s Poisson through a belay agent's proxy; examples/hello, one instance per version; analysis tick %s; %d runs per cell, %d at a time; α = 0.01.\n\n", *rate, *tick, *runs, *par)
	var bad []shadowOut
	var canary []canaryOut
	if slices.Contains(want, "1") {
		if bad, err = benchrun.Parallel(*runs, *par, func(i int) (shadowOut, error) {
			return b.shadowRun(0, 0.05, time.Minute, *limit, true, uint64(i))
		}); err != nil {
			fail(err)
		}
	}
	if slices.Contains(want, "2") {
		if canary, err = benchrun.Parallel(*runs, *par, func(int) (canaryOut, error) { return b.canaryRun(0, 0.05, 5, *limit) }); err != nil {
			fail(err)
		}
	}
	if bad != nil || canary != nil {
		badTable(bad, canary, *runs, *rate)
	}
	if slices.Contains(want, "3") {
		aaRuns, err := benchrun.Parallel(*runs, *par, func(i int) (shadowOut, error) {
			return b.shadowRun(0.01, 0.01, *aa, *aa+5*time.Second, false, uint64(1000+i))
		})
		if err != nil {
			fail(err)
		}
		aaTable(aaRuns, *aa)
	}
	if slices.Contains(want, "4") {
		modes := []string{noShadow, hangs, crashes}
		outs, err := benchrun.Parallel(len(modes), len(modes), func(i int) (impactOut, error) { return b.impactRun(modes[i], *hold) })
		if err != nil {
			fail(err)
		}
		impactTable(outs, *hold, *rate)
	}
	fmt.Printf("\n(%s of wall time on %d CPUs)\n", time.Since(start).Round(time.Second), runtime.GOMAXPROCS(0))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/shadow:", err)
	os.Exit(1)
}

func badTable(sh []shadowOut, ca []canaryOut, runs int, rate float64) {
	fmt.Printf("Bad version (hello ERROR_RATE=0.05; stable ERROR_RATE=0): medians over %d runs; a run ends at the rollback or after the limit. Wald: SPRT of θ = ½ against θ1 = %.4f (θ1 from 5 %% against a 0.1 %% floor for stable, which fails 0 %%: with 0 %% θ1 is 1) on the same discordant pairs at the same ticks.\n\n", runs, theta1(0.05, 0.001))
	fmt.Println("| step | rolled back | detection s | new version's requests at detection | discordant new-worse / stable-worse | Wald s | Wald discordant pairs | failed user requests (median, max) | runs with 0 failed user requests |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	if sh != nil {
		fmt.Printf("| shadow, 100 %% mirrored (%g copies/s) | %d of %d | %s | %s pairs | %s / %s | %s | %s | %s, %s | %d of %d |\n", rate,
			count(sh, func(o shadowOut) bool { return o.Decision == analysis.Fail }), len(sh),
			benchrun.Num(median(over(sh, func(o shadowOut) float64 { return o.DecideSec }))),
			benchrun.Num(median(over(sh, func(o shadowOut) float64 { return float64(o.Pairs) }))),
			benchrun.Num(median(over(sh, func(o shadowOut) float64 { return float64(o.NewWorse) }))),
			benchrun.Num(median(over(sh, func(o shadowOut) float64 { return float64(o.StableWorse) }))),
			benchrun.Num(median(over(sh, func(o shadowOut) float64 { return o.WaldSec }))),
			benchrun.Num(median(over(sh, func(o shadowOut) float64 { return float64(o.WaldDiscordant) }))),
			benchrun.Num(median(over(sh, func(o shadowOut) float64 { return float64(o.UserFailed) }))),
			benchrun.Num(slices.Max(over(sh, func(o shadowOut) float64 { return float64(o.UserFailed) }))),
			count(sh, func(o shadowOut) bool { return o.UserFailed == 0 }), len(sh))
	}
	if ca != nil {
		fmt.Printf("| canary, weight 5 %% (%g req/s) | %d of %d | %s | %s canary requests (%s failed) | – | – | – | %s, %s | %d of %d |\n", rate*0.05,
			count(ca, func(o canaryOut) bool { return !math.IsInf(o.DecideSec, 1) }), len(ca),
			benchrun.Num(median(over(ca, func(o canaryOut) float64 { return o.DecideSec }))),
			benchrun.Num(median(over(ca, func(o canaryOut) float64 { return float64(o.CanaryReq) }))),
			benchrun.Num(median(over(ca, func(o canaryOut) float64 { return float64(o.CanaryFails) }))),
			benchrun.Num(median(over(ca, func(o canaryOut) float64 { return float64(o.UserFailed) }))),
			benchrun.Num(slices.Max(over(ca, func(o canaryOut) float64 { return float64(o.UserFailed) }))),
			count(ca, func(o canaryOut) bool { return o.UserFailed == 0 }), len(ca))
	}
	if tr := triggers(sh); tr != "" {
		fmt.Printf("\nShadow rollback triggers: %s.\n", tr)
	}
}

func triggers(runs []shadowOut) string {
	n := map[string]int{}
	for _, o := range runs {
		if o.Trigger != "" {
			n[o.Trigger]++
		}
	}
	var parts []string
	for t, k := range n {
		parts = append(parts, fmt.Sprintf("%s %d", t, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func aaTable(runs []shadowOut, length time.Duration) {
	fmt.Printf("\nA/A shadow: the same version twice (hello ERROR_RATE=0.01 both), minimum duration %s, each run until its decision or %s.\n\n", length, length+5*time.Second)
	fmt.Println("| runs | rollbacks | passes | undecided | pass s (median) | pairs at the decision (median) | discordant new-worse / stable-worse (median) | failed user requests (median) |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|")
	passed := func(o shadowOut) bool { return o.Decision == analysis.Pass }
	fmt.Printf("| %d | %d | %d | %d | %s | %s | %s / %s | %s |\n", len(runs),
		count(runs, func(o shadowOut) bool { return o.Decision == analysis.Fail }), count(runs, passed),
		count(runs, func(o shadowOut) bool { return o.Decision == analysis.Continue }),
		benchrun.Num(median(over(runs, func(o shadowOut) float64 { return o.DecideSec }))),
		benchrun.Num(median(over(runs, func(o shadowOut) float64 { return float64(o.Pairs) }))),
		benchrun.Num(median(over(runs, func(o shadowOut) float64 { return float64(o.NewWorse) }))),
		benchrun.Num(median(over(runs, func(o shadowOut) float64 { return float64(o.StableWorse) }))),
		benchrun.Num(median(over(runs, func(o shadowOut) float64 { return float64(o.UserFailed) }))))
	if tr := triggers(runs); tr != "" {
		fmt.Printf("\nTriggers of the A/A rollbacks: %s.\n\n", tr)
	}
	for _, o := range runs {
		if o.Decision == analysis.Fail {
			fmt.Printf("- at %s s: %s\n", benchrun.Num(o.DecideSec), o.Reason)
		}
	}
}

func impactTable(outs []impactOut, hold time.Duration, rate float64) {
	fmt.Printf("\nA shadow that hangs or crashes, side by side in one run (the three services at once): users at %g req/s for %s each; the shadow stays on for the whole run whatever the analysis decides (the engine would remove it at the rollback). Hanging: hello LATENCY=30s (the mirror's timeout is 10 s, at most 64 copies in flight). Crashing: the new version's process is killed (SIGKILL) every %s and the agent restarts it.\n\n", rate, hold, killEvery)
	fmt.Println("| new version | user requests | users' p50 | users' p99 | users' max | failed user requests | copies sent | copies dropped | pairs (new failed) | analysis decision | kills / restarts |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
	for _, o := range outs {
		u := o.Users
		dec := "–"
		if o.Mode != noShadow {
			dec = "none within the run"
			if o.Decision != analysis.Continue {
				dec = strings.TrimSpace(fmt.Sprintf("%s %s", o.Decision, o.Trigger)) + " at " + benchrun.Num(o.DecideSec) + " s"
			}
		}
		mode := o.Mode
		if mode != noShadow {
			mode = "shadow, " + mode
		}
		fmt.Printf("| %s | %d | %s | %s | %s | %d | %d | %s | %d (%d) | %s | %d / %d |\n", mode, u.Sent, dur(u.Quantile(0.5)), dur(u.Quantile(0.99)), dur(u.Quantile(1)),
			len(u.Failures), o.Shadow.Sent, drops(o.Shadow.Dropped), o.Pairs, o.NewBad, dec, o.Kills, o.Restarts)
	}
}

func drops(m map[string]int64) string {
	var parts []string
	for r, n := range m {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, r))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
