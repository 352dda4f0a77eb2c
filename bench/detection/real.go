package main

import (
	"context"
	"fmt"
	"github.com/belay-dev/belay/bench/internal/benchrun"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/belay-dev/belay/internal/agent"
	"github.com/belay-dev/belay/internal/agent/agenttest"
	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/builtin"
	"github.com/belay-dev/belay/internal/loadgen"
	"github.com/belay-dev/belay/internal/target"
)

// realShare is the canary weight of real cells: higher than the replay
// cells' 5 % so that 100 canary req/s needs 400 req/s, not 2 000, on a
// small machine.
const realShare = 0.25

// realBench runs canaries for real: examples/hello as stable and canary
// (ERROR_RATE set per version) behind a belay agent's proxy in this
// process, under generated HTTP load, judged every tick by the same
// Analyzer through the builtin source (the agent's counters).
type realBench struct {
	a   *agent.Agent
	dir string
	n   atomic.Int64
}

func newRealBench() (*realBench, error) {
	dir, err := os.MkdirTemp("", "belay-detection-")
	if err != nil {
		return nil, err
	}
	a, err := agent.New(agent.Config{StateDir: dir, Opener: agenttest.HelloOpener{}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	return &realBench{a: a, dir: dir}, nil
}

func (b *realBench) close() {
	b.a.Close(true)
	os.RemoveAll(b.dir)
}

func helloVersion(name string, errRate, weight float64) target.Version {
	return target.Version{Version: name, Artifact: "hello", Instances: 1, Weight: weight,
		Run:    target.Run{Command: "hello", Env: map[string]string{"VERSION": name, "ERROR_RATE": strconv.FormatFloat(errRate, 'g', -1, 64)}},
		Health: target.Health{HTTPPath: "/healthz", Interval: 500 * time.Millisecond, HealthTimeout: 20 * time.Second}}
}

// run deploys stable and canary of a fresh service, loads it at c.Rate
// canary req/s for at most limit, and judges it every tick until belay and
// Wald's SPRT (on the same canary requests) both decided. An A/A cell
// (P1 == P0) runs the whole limit: any rollback is a false one.
func (b *realBench) run(c cell, seed uint64, tick, limit time.Duration) (outcome, error) {
	ctx := context.Background()
	svc := fmt.Sprintf("run%d", b.n.Add(1))
	d := target.Desired{Environment: "bench", Service: svc, Listen: "127.0.0.1:0", Versions: []target.Version{
		helloVersion("stable", c.P0, 100*(1-realShare)), helloVersion("canary", c.P1, 100*realShare)}}
	if err := b.a.Apply(ctx, d); err != nil {
		return outcome{}, err
	}
	defer b.a.Remove(ctx, "bench", svc) //nolint:errcheck // best effort: the bench's agent stops everything at the end
	obs, err := b.a.Observe(ctx, "bench", svc)
	if err != nil {
		return outcome{}, err
	}
	a, err := analysis.New(config(analysis.Config{MinDuration: time.Minute}))
	if err != nil {
		return outcome{}, err
	}
	load := loadgen.Start("http://"+obs.Listen+"/", loadgen.Options{Rate: c.Rate / realShare, Poisson: true})
	defer load.Stop()
	src := builtin.New(b.a)
	wald := analysis.NewWald(c.P0, c.P1, 0.01, 0.01)
	order := rand.New(rand.NewPCG(seed, 77))
	bnd := newModelBound(realShare, c.P0, c.P1, seed)
	bnd.done = c.P1 == c.P0
	out := outcome{math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1)}
	start := time.Now()
	a.Tick(ctx, src, "bench", svc, 100*realShare, start)
	var prev, prevStable target.Counters
	var optErrs int64
	optDone, belayDone := c.P1 == c.P0, false
	t := time.NewTicker(tick)
	defer t.Stop()
	for time.Since(start) < limit && !(belayDone && optDone && bnd.done) {
		now := <-t.C
		v := a.Tick(ctx, src, "bench", svc, 100*realShare, now)
		if v.Decision == analysis.Fail && !belayDone {
			belayDone = true
			out.BelaySec, out.BelayReq = now.Sub(start).Seconds(), float64(a.State.Canary.Total.Requests)
			out.BelayFailed = float64(a.State.Canary.Total.Errors)
		}
		cur := a.State.Canary.Total
		curC := target.Counters{Requests: cur.Requests, Errors: cur.Errors}
		curS := target.Counters{Requests: a.State.Stable.Total.Requests, Errors: a.State.Stable.Total.Errors}
		if !bnd.done {
			bnd.observe(-1, prev, curC, prevStable, curS, &out)
		}
		n, k := cur.Requests-prev.Requests, cur.Errors-prev.Errors
		prev, prevStable = curC, curS
		for i := n; i > 0 && !optDone; i-- { // the tick's errors fall among its requests in random order
			isErr := order.Float64()*float64(i) < float64(k)
			if isErr {
				k--
				optErrs++
			}
			if dec := wald.Observe(isErr); dec != 0 {
				optDone = true
				if dec > 0 {
					out.OptReq, out.OptFailed = float64(wald.Requests), float64(optErrs)
				}
			}
		}
	}
	return out, nil
}

// realCells prints the real-canary rows: regression cells, then A/A.
func realCells(runs, par int, tick, aaLen time.Duration) error {
	b, err := newRealBench()
	if err != nil {
		return err
	}
	defer b.close()
	if _, err := agenttest.HelloDir(); err != nil { // build once before the clock matters
		return err
	}
	fmt.Printf("\nReal canaries through the agent and proxy: canary weight %g %%, %d runs per cell, %d at a time; Flagger not run (it needs ≥ 5 one-minute checks, 300 s).\n\n", 100*realShare, runs, par)
	fmt.Println("| canary req/s | regression | mode | belay s | belay requests | optimum requests | model bound requests | belay / optimum | bound / optimum | belay / bound | belay failed | optimum failed | never rolled back |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, rate := range []float64{10, 100} {
		for _, c := range []struct {
			name string
			p1   float64
		}{{"errors 0.1 % → 5 %", 0.05}, {"errors 0.1 % → 10 %", 0.10}} {
			cl := cell{Rate: rate, P0: 0.001, P1: c.p1, Mode: "real"}
			outs, err := benchrun.Parallel(runs, par, func(i int) (outcome, error) { return b.run(cl, uint64(i), tick, 2*time.Minute) })
			if err != nil {
				return err
			}
			never := 0
			for _, o := range outs {
				if math.IsInf(o.BelaySec, 1) {
					never++
				}
			}
			breq, opt, bnd := stats(outs, func(o outcome) float64 { return o.BelayReq }), stats(outs, func(o outcome) float64 { return o.OptReq }),
				stats(outs, func(o outcome) float64 { return o.BoundReq })
			fmt.Printf("| %g | %s | real (%d runs) | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", rate, c.name, runs,
				benchrun.Num(med(outs, func(o outcome) float64 { return o.BelaySec })), breq, opt, bnd, breq.ratio(opt), bnd.ratio(opt), breq.ratio(bnd),
				benchrun.Num(med(outs, func(o outcome) float64 { return o.BelayFailed })), benchrun.Num(med(outs, func(o outcome) float64 { return o.OptFailed })), never)
		}
	}
	fmt.Println()
	fmt.Printf("| canary req/s | real A/A runs | belay false rollbacks (%s each) |\n|---|---|---|\n", aaLen)
	for _, rate := range []float64{10, 100} {
		cl := cell{Rate: rate, P0: 0.001, P1: 0.001, Mode: "real"}
		outs, err := benchrun.Parallel(runs, par, func(i int) (outcome, error) { return b.run(cl, uint64(i), tick, aaLen) })
		if err != nil {
			return err
		}
		bf := 0
		for _, o := range outs {
			if !math.IsInf(o.BelaySec, 1) {
				bf++
			}
		}
		fmt.Printf("| %g | %d | %d (%.1f %%) |\n", rate, runs, bf, 100*float64(bf)/float64(runs))
	}
	return nil
}
