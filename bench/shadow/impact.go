package main

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/belay-dev/belay/internal/agent"
	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/builtin"
	"github.com/belay-dev/belay/internal/loadgen"
	"github.com/belay-dev/belay/internal/target"
)

// What the shadow's new version does in an impact run.
const (
	noShadow = "no shadow"
	hangs    = "hangs 30 s"
	crashes  = "crashes"
)

// killEvery is how often a crashing new version's process is killed.
const killEvery = 2 * time.Second

// impactOut is what users got while a shadow ran, and what the mirror and
// the analysis did.
type impactOut struct {
	Mode          string
	Users         loadgen.Tally
	Shadow        target.ShadowCounters
	Decision      analysis.Decision // first decision other than Continue
	Trigger       string
	DecideSec     float64
	Kills         int
	Restarts      int64
	Pairs, NewBad int64 // pairs at the end, those the new version failed
}

// impactRun loads stable (never failing) for hold while the new version,
// taking no traffic, gets a copy of every request (unless mode is
// noShadow) and hangs or crashes. The shadow is left in place for the
// whole hold, whatever the analysis says, to show what a failing shadow
// costs users while it runs; the analysis's first decision is recorded.
func (b *bench) impactRun(mode string, hold time.Duration) (impactOut, error) {
	ctx := context.Background()
	newEnv := map[string]string{}
	if mode == hangs {
		newEnv["LATENCY"] = "30s"
	}
	var sh *target.Shadow
	if mode != noShadow {
		sh = &target.Shadow{Version: "new", Share: 100}
	}
	svc, addr, remove, err := b.deploy(ctx, []target.Version{hello("stable", 100, nil), hello("new", 0, newEnv)}, sh)
	if err != nil {
		return impactOut{}, err
	}
	defer remove()
	a, err := analysis.New(analysis.Config{Canary: "new", Stable: "stable", Shadow: true, MinDuration: hold, MaxDuration: 3 * hold})
	if err != nil {
		return impactOut{}, err
	}
	src := builtin.New(b.a)
	out := impactOut{Mode: mode, Decision: analysis.Continue, DecideSec: inf}
	load := loadgen.Start("http://"+addr+"/", loadgen.Options{Rate: b.rate, Poisson: true})
	start := time.Now()
	if sh != nil {
		a.Tick(ctx, src, "bench", svc, 0, start)
	}
	t := time.NewTicker(b.tick)
	defer t.Stop()
	lastKill := start
	for time.Since(start) < hold {
		now := <-t.C
		if mode == crashes && now.Sub(lastKill) >= killEvery {
			lastKill = now
			out.Kills += b.kill(svc, "new")
		}
		if sh == nil || out.Decision != analysis.Continue {
			continue
		}
		if v := a.Tick(ctx, src, "bench", svc, 0, now); v.Decision != analysis.Continue {
			out.Decision, out.Trigger, out.DecideSec = v.Decision, v.Trigger, now.Sub(start).Seconds()
		}
	}
	out.Users = load.Stop()
	cs, err := b.a.Counters(ctx, "bench", svc)
	if err != nil {
		return impactOut{}, err
	}
	for _, c := range cs {
		if c.Version == "new" && c.Shadow != nil {
			out.Shadow = *c.Shadow
			out.Pairs = c.Shadow.BothOK + c.Shadow.NewFailed + c.Shadow.StableFailed + c.Shadow.BothFailed
			out.NewBad = c.Shadow.NewFailed + c.Shadow.BothFailed
		}
	}
	if obs, err := b.a.Observe(ctx, "bench", svc); err == nil {
		for _, v := range obs.Versions {
			if v.Version == "new" {
				out.Restarts = v.Restarts
			}
		}
	}
	return out, nil
}

// kill sends SIGKILL to the running instances of version, found through the
// pid files the agent keeps, as a crash would end them; the agent's
// supervisor restarts them. It returns how many it killed.
func (b *bench) kill(svc, version string) int {
	prefix := filepath.Join(b.dir, "run", "bench", svc, version+".")
	n := 0
	for _, in := range agent.RunningInstances(b.dir) {
		if strings.HasPrefix(in.PidFile, prefix) && syscall.Kill(in.Pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}
