package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/belay-dev/belay/internal/agent"
	"github.com/belay-dev/belay/internal/agent/agenttest"
	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/builtin"
	"github.com/belay-dev/belay/internal/loadgen"
	"github.com/belay-dev/belay/internal/target"
)

// bench is one belay agent in this process running examples/hello: every
// run deploys a fresh service on it and loads it through its proxy.
type bench struct {
	a    *agent.Agent
	dir  string
	n    atomic.Int64
	rate float64       // users' requests per second, Poisson
	tick time.Duration // analysis tick
}

func newBench(rate float64, tick time.Duration) (*bench, error) {
	if _, err := agenttest.HelloDir(); err != nil { // build once before the clock matters
		return nil, err
	}
	dir, err := os.MkdirTemp("", "belay-shadow-")
	if err != nil {
		return nil, err
	}
	a, err := agent.New(agent.Config{StateDir: dir, Opener: agenttest.HelloOpener{}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	return &bench{a: a, dir: dir, rate: rate, tick: tick}, nil
}

func (b *bench) close() {
	b.a.Close(true)
	os.RemoveAll(b.dir)
}

// hello is a version of examples/hello configured by env (ERROR_RATE,
// LATENCY, …).
func hello(name string, weight float64, env map[string]string) target.Version {
	e := map[string]string{"VERSION": name}
	maps.Copy(e, env)
	return target.Version{Version: name, Artifact: "hello", Instances: 1, Weight: weight,
		Run:    target.Run{Command: "hello", Env: e, GracePeriod: time.Second},
		Health: target.Health{HTTPPath: "/healthz", Interval: 500 * time.Millisecond, HealthTimeout: 20 * time.Second}}
}

func errRate(p float64) map[string]string {
	return map[string]string{"ERROR_RATE": strconv.FormatFloat(p, 'g', -1, 64)}
}

// deploy applies a fresh service with versions (and shadow, if any) and
// returns its name, proxy address and a function removing it.
func (b *bench) deploy(ctx context.Context, vs []target.Version, sh *target.Shadow) (svc, addr string, remove func(), err error) {
	svc = fmt.Sprintf("run%d", b.n.Add(1))
	d := target.Desired{Environment: "bench", Service: svc, Listen: "127.0.0.1:0", Versions: vs, Shadow: sh}
	if err := b.a.Apply(ctx, d); err != nil {
		return "", "", nil, err
	}
	remove = func() { _ = b.a.Remove(ctx, "bench", svc) }
	obs, err := b.a.Observe(ctx, "bench", svc)
	if err != nil {
		remove()
		return "", "", nil, err
	}
	return svc, obs.Listen, remove, nil
}

// shadowOut is one shadow run.
type shadowOut struct {
	Decision  analysis.Decision // the first decision other than Continue; Continue if none within the limit
	Trigger   string
	Reason    string  // the decision's, and the slow pairs per threshold at a latency rollback
	DecideSec float64 // +Inf without a decision
	// Pairs and discordant pairs at the decision (or the end).
	Pairs, NewWorse, StableWorse int64
	WaldSec                      float64 // +Inf if Wald's SPRT did not reject ½ by then
	WaldDiscordant               int64
	UserSent                     int64
	UserFailed                   int // the users' 5xx answers and unanswered requests
}

// shadowRun deploys stable (failing at ps) and new (at pn) taking no
// traffic, mirrors 100 % of users' requests to new, and ticks the shadow
// Analyzer until its first decision — and, when wald, until Wald's SPRT on
// the same discordant pairs (told θ1 from pn and max(ps, 0.001)) decided too
// — or limit.
func (b *bench) shadowRun(ps, pn float64, minDur, limit time.Duration, wald bool, seed uint64) (shadowOut, error) {
	ctx := context.Background()
	svc, addr, remove, err := b.deploy(ctx, []target.Version{hello("stable", 100, errRate(ps)), hello("new", 0, errRate(pn))},
		&target.Shadow{Version: "new", Share: 100})
	if err != nil {
		return shadowOut{}, err
	}
	defer remove()
	a, err := analysis.New(analysis.Config{Canary: "new", Stable: "stable", Shadow: true, MinDuration: minDur, MaxDuration: max(3*minDur, limit)})
	if err != nil {
		return shadowOut{}, err
	}
	src := builtin.New(b.a)
	w := newPairWald(theta1(pn, max(ps, 0.001)), seed)
	load := loadgen.Start("http://"+addr+"/", loadgen.Options{Rate: b.rate, Poisson: true})
	start := time.Now()
	a.Tick(ctx, src, "bench", svc, 0, start)
	out := shadowOut{Decision: analysis.Continue, DecideSec: inf, WaldSec: inf}
	var seen analysis.Paired
	t := time.NewTicker(b.tick)
	defer t.Stop()
	for time.Since(start) < limit && (out.Decision == analysis.Continue || wald && w.Decision == 0) {
		now := <-t.C
		v := a.Tick(ctx, src, "bench", svc, 0, now)
		p := a.State.Pairs
		if w.Decision == 0 && w.add(p.Errors.NewWorse-seen.NewWorse, p.Errors.StableWorse-seen.StableWorse) && w.Decision > 0 {
			out.WaldSec, out.WaldDiscordant = now.Sub(start).Seconds(), w.Discordant()
		}
		seen = p.Errors
		if out.Decision == analysis.Continue {
			out.Pairs, out.NewWorse, out.StableWorse = p.Pairs, p.Errors.NewWorse, p.Errors.StableWorse
			if v.Decision != analysis.Continue {
				out.Decision, out.Trigger, out.DecideSec, out.Reason = v.Decision, v.Trigger, now.Sub(start).Seconds(), v.Reason+slowPairs(a.State)
			}
		}
	}
	tl := load.Stop()
	out.UserSent, out.UserFailed = tl.Sent, len(tl.Failures)
	return out, nil
}

// slowPairs lists the discordant slow pairs at each frozen threshold: what a
// latency verdict rests on, which the verdict's reason does not say.
func slowPairs(st analysis.State) string {
	p := st.Pairs
	var b strings.Builder
	for k, th := range st.Thresholds {
		if k < len(p.Slow) {
			fmt.Fprintf(&b, "; slower than %s: new only %d, stable only %d", time.Duration(th*float64(time.Second)), p.Slow[k].NewWorse, p.Slow[k].StableWorse)
		}
	}
	return b.String()
}

// canaryOut is one canary run.
type canaryOut struct {
	DecideSec              float64 // first Fail; +Inf without
	CanaryReq, CanaryFails int64   // the canary's requests and failures at the Fail
	UserSent               int64
	UserFailed             int
}

// canaryRun deploys stable (failing at ps) and a canary (at pn) taking
// weight percent of users' requests, and ticks the canary Analyzer (the
// server's default configuration) until it fails the canary or limit.
func (b *bench) canaryRun(ps, pn, weight float64, limit time.Duration) (canaryOut, error) {
	ctx := context.Background()
	svc, addr, remove, err := b.deploy(ctx, []target.Version{hello("stable", 100-weight, errRate(ps)), hello("canary", weight, errRate(pn))}, nil)
	if err != nil {
		return canaryOut{}, err
	}
	defer remove()
	a, err := analysis.New(analysis.Config{Canary: "canary", Stable: "stable", MinDuration: time.Minute, MaxDuration: 24 * time.Hour})
	if err != nil {
		return canaryOut{}, err
	}
	src := builtin.New(b.a)
	load := loadgen.Start("http://"+addr+"/", loadgen.Options{Rate: b.rate, Poisson: true})
	start := time.Now()
	a.Tick(ctx, src, "bench", svc, weight, start)
	out := canaryOut{DecideSec: inf}
	t := time.NewTicker(b.tick)
	defer t.Stop()
	for time.Since(start) < limit {
		now := <-t.C
		if a.Tick(ctx, src, "bench", svc, weight, now).Decision == analysis.Fail {
			out.DecideSec = now.Sub(start).Seconds()
			out.CanaryReq, out.CanaryFails = a.State.Canary.Total.Requests, a.State.Canary.Total.Errors
			break
		}
	}
	tl := load.Stop()
	out.UserSent, out.UserFailed = tl.Sent, len(tl.Failures)
	return out, nil
}
