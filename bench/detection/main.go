// Command detection measures how fast belay's canary analysis rolls back a
// regression, next to Wald's SPRT with known rates (the optimum) and a
// Flagger-style fixed-interval analysis (1 min interval, 5 failed checks,
// success ≥ 99 %) run on the same request streams, and how often each rolls
// back a healthy canary (A/A). Cells marked "replay" replay generated streams
// through the analysis code with a clock the harness controls.
//
//	go run ./bench/detection [-runs 200] [-aa 300] [-tick 250ms] [-rates 1,10,100] [-agent 20]
//
// With -agent N the fast cells also run N times each as real canaries
// (mode "real"): examples/hello behind a belay agent's proxy under
// generated load, judged by the same Analyzer through the builtin source.
package main

import (
	"flag"
	"fmt"
	"github.com/belay-dev/belay/bench/internal/benchrun"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/server"
)

func main() {
	runs := flag.Int("runs", 200, "runs per regression cell (≥ 20)")
	aaRuns := flag.Int("aa", 300, "A/A runs per request rate")
	tick := flag.Duration("tick", server.DefaultTick, "analysis tick (the server engine's default)")
	horizon := flag.Duration("horizon", 2*time.Hour, "simulated time before a run counts as never rolled back")
	rates := flag.String("rates", "1,10,100", "canary requests per second, comma-separated")
	latencyWeight := flag.Float64("latency-weight", 0.5, "weight of the latency e-value against errors")
	test := flag.String("test", "msprt", "sequential test: msprt or beta")
	agentRuns := flag.Int("agent", 0, "also run the fast cells (10 and 100 canary req/s × 5 % and 10 % errors, A/A) as real canaries through a belay agent and proxy, this many runs each")
	agentPar := flag.Int("agent-parallel", 4, "real runs at a time")
	agentAA := flag.Duration("agent-aa", time.Minute, "length of each real A/A run")
	flag.Parse()
	baseConfig.LatencyWeight = *latencyWeight
	baseConfig.Test = analysis.Test(*test)
	if err := baseConfig.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "detection:", err)
		os.Exit(2)
	}
	var rs []float64
	for _, f := range strings.Split(*rates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			fmt.Fprintf(os.Stderr, "detection: -rates: %q is not a positive number\n", f)
			os.Exit(2)
		}
		rs = append(rs, r)
	}
	start := time.Now()
	fmt.Printf("Test %s, canary share 5 %%, α = 0.01, tick %s, %d runs per cell, %d A/A runs per rate; medians over runs.\n\n", *test, *tick, *runs, *aaRuns)
	fmt.Println("Requests: median over all runs (mean over the runs that rolled back). Model bound: Wald's SPRT on which arm each event came from, with the regressed share θ1 known.")
	fmt.Println()
	fmt.Println("| canary req/s | regression | mode | belay s | belay requests | optimum requests | model bound requests | belay / optimum | bound / optimum | belay / bound | belay failed | optimum failed | Flagger s | Flagger failed | faster than Flagger |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, rate := range rs {
		if *runs == 0 {
			break
		}
		for _, c := range []struct {
			name     string
			p1, slow float64
		}{{"errors 0.1 % → 1 %", 0.01, 0}, {"errors 0.1 % → 5 %", 0.05, 0}, {"errors 0.1 % → 10 %", 0.10, 0}, {"latency ×2 on 5 %", 0.001, 0.05}} {
			cl := cell{Rate: rate, P0: 0.001, P1: c.p1, SlowShare: c.slow, Mode: "replay"}
			outs, _ := benchrun.Parallel(*runs, runtime.GOMAXPROCS(0), func(i int) (outcome, error) { return runOne(cl, uint64(i), *tick, *horizon), nil })
			b, fl := med(outs, func(o outcome) float64 { return o.BelaySec }), med(outs, func(o outcome) float64 { return o.FlagSec })
			breq, opt, bnd := stats(outs, func(o outcome) float64 { return o.BelayReq }), stats(outs, func(o outcome) float64 { return o.OptReq }),
				stats(outs, func(o outcome) float64 { return o.BoundReq })
			fmt.Printf("| %g | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", rate, c.name, cl.Mode, benchrun.Num(b),
				breq, opt, bnd, breq.ratio(opt), bnd.ratio(opt), breq.ratio(bnd),
				benchrun.Num(med(outs, func(o outcome) float64 { return o.BelayFailed })),
				benchrun.Num(med(outs, func(o outcome) float64 { return o.OptFailed })), benchrun.Num(fl),
				benchrun.Num(med(outs, func(o outcome) float64 { return o.FlagFailed })), ratio(fl, b)+"×")
		}
	}
	fmt.Println()
	fmt.Println("| canary req/s | A/A runs | belay false rollbacks (30 min) | Flagger false rollbacks (25 checks) | Flagger with the p99 check |")
	fmt.Println("|---|---|---|---|---|")
	for _, rate := range rs {
		if *aaRuns == 0 {
			break
		}
		res, _ := benchrun.Parallel(*aaRuns, runtime.GOMAXPROCS(0), func(i int) ([3]bool, error) { return runAA(rate, uint64(1_000_000+i), *tick), nil })
		var n [3]int
		for _, r := range res {
			for k, rolledBack := range r {
				if rolledBack {
					n[k]++
				}
			}
		}
		pct := func(k int) string { return fmt.Sprintf("%d (%.2f %%)", n[k], 100*float64(n[k])/float64(*aaRuns)) }
		fmt.Printf("| %g | %d | %s | %s | %s |\n", rate, *aaRuns, pct(0), pct(1), pct(2))
	}
	if *agentRuns > 0 {
		if err := realCells(*agentRuns, *agentPar, *tick, *agentAA); err != nil {
			fmt.Fprintln(os.Stderr, "detection:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("\n(%s of wall time on %d CPUs)\n", time.Since(start).Round(time.Second), runtime.GOMAXPROCS(0))
}

func med(outs []outcome, f func(outcome) float64) float64 {
	xs := make([]float64, len(outs))
	for i, o := range outs {
		xs[i] = f(o)
	}
	sort.Float64s(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// spread is a median and a mean over runs.
type spread struct{ Median, Mean float64 }

// stats gives the median over all runs (a run that never rolled back
// counts as infinitely slow) and the mean over the runs that rolled back.
func stats(outs []outcome, f func(outcome) float64) spread {
	var sum float64
	var n int
	for _, o := range outs {
		if x := f(o); !math.IsInf(x, 1) {
			sum, n = sum+x, n+1
		}
	}
	return spread{med(outs, f), sum / float64(n)}
}

func (s spread) String() string { return benchrun.Num(s.Median) + " (" + benchrun.Num(s.Mean) + ")" }

// ratio gives the ratio of the medians and, in brackets, of the means.
func (s spread) ratio(of spread) string {
	return ratio(s.Median, of.Median) + " (" + ratio(s.Mean, of.Mean) + ")"
}

func ratio(a, b float64) string {
	if math.IsInf(a, 0) || math.IsInf(b, 0) || b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a/b)
}
