// Command agentcrash is the agent-crash benchmark harness (not a test): a
// real project (examples/hello) under `belay up`, production's proxy under
// steady load from belay's load generator for the whole run, and
//
//   - a good release and a bad one (30 % of requests fail), each with the
//     agent child killed with SIGKILL in its first production canary step:
//     connections refused, requests failed, the time until the agent serves
//     again, and whether the rollout still ends as it should (promoted,
//     rolled back);
//   - `belay agent --upgrade` a few times with no release running, each onto
//     another build of belay renamed over the binary: requests failed and how
//     long each upgrade took.
//
// It prints a table per round and exits 1 if a goal is missed, saying which.
//
//	go run ./bench/agentcrash [-rate 200] [-rounds 1] [-good-into 2s] [-bad-into 500ms] [-upgrades 3] [-retry=false] [-keep]
//
// Run from the repository root; needs git and the Go toolchain.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/loadgen"
)

// Goals from the issue.
const (
	goalFailedShare = 0.001       // of the requests sent in the second after the kill
	goalRestart     = time.Second // kill to the proxy answering again
)

type config struct {
	rate              float64
	rounds, upgrades  int
	goodInto, badInto time.Duration
	keep, retry       bool
}

func main() {
	var c config
	flag.Float64Var(&c.rate, "rate", 200, "requests per second through production's proxy, evenly spaced, for the whole run")
	flag.IntVar(&c.rounds, "rounds", 1, "crash rounds of each kind (a good release, a bad one)")
	flag.DurationVar(&c.goodInto, "good-into", 2*time.Second, "kill the agent child this long into a good release's first canary step (10 %, 5 s)")
	flag.DurationVar(&c.badInto, "bad-into", 500*time.Millisecond, "… and into a bad release's: it must still be in the step, and the bad canary is judged within about 2 s")
	flag.IntVar(&c.upgrades, "upgrades", 3, "agent upgrades under load, after the crash rounds")
	flag.BoolVar(&c.retry, "retry", true, "let the load's client (net/http) send a GET again on a new connection when its keep-alive connection dies\nunanswered, as it does by default; -retry=false counts such a request as failed, as a client that does not retry would see it")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary directory (project, .belay with logs)")
	flag.Parse()
	if c.rate <= 0 || c.rounds < 0 || c.upgrades < 0 {
		fmt.Fprintln(os.Stderr, "agentcrash: -rate must be positive, -rounds and -upgrades not negative")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	missed, err := run(ctx, c)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentcrash:", err)
		os.Exit(1)
	}
	if len(missed) > 0 {
		fmt.Println("\nGoals missed:")
		for _, m := range missed {
			fmt.Println("  -", m)
		}
		os.Exit(1)
	}
	fmt.Println("\nEvery goal met.")
}

func run(ctx context.Context, c config) ([]string, error) {
	began := time.Now()
	tmp, err := os.MkdirTemp("", "belay-agentcrash-")
	if err != nil {
		return nil, err
	}
	if c.keep {
		defer fmt.Fprintln(os.Stderr, "agentcrash: kept", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	p, err := newProject(ctx, tmp)
	if err != nil {
		return nil, err
	}
	defer p.down()
	v, err := buildVersions(ctx, p, c.rounds)
	if err != nil {
		return nil, err
	}
	logf("built belay twice and %d versions of hello in %s", 1+2*c.rounds, time.Since(began).Round(time.Second))
	if err := p.up(ctx); err != nil {
		return nil, err
	}
	rel, err := p.release(ctx, v.first)
	if err != nil {
		return nil, err
	}
	if _, err := p.belay(ctx, "wait", "--release", fmt.Sprint(rel), "--timeout", "3m"); err != nil {
		return nil, err
	}
	logf("%s is stable in staging and production; load at %g req/s on http://%s/", v.first, c.rate, p.production)

	rec := newRecorder(!c.retry)
	load := loadgen.Start("http://"+p.production+"/", loadgen.Options{Rate: c.rate, Header: api.VersionHeader,
		Client: &http.Client{Timeout: 10 * time.Second, Transport: rec}})
	defer load.Stop()
	b := &bench{p: p, load: load, rec: rec}
	time.Sleep(2 * time.Second)

	var crashes []crashResult
	for i := range c.rounds {
		good, err := b.crashRound(ctx, crashSpec{name: fmt.Sprintf("good %d", i+1), version: v.good[i], into: c.goodInto,
			want: "Succeeded", wantStable: v.good[i]})
		crashes = append(crashes, good)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", good.name, err)
		}
		bad, err := b.crashRound(ctx, crashSpec{name: fmt.Sprintf("bad %d", i+1), version: v.bad[i], into: c.badInto,
			want: "RolledBack", wantStable: v.good[i], own: []string{v.bad[i]}})
		crashes = append(crashes, bad)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", bad.name, err)
		}
	}
	var up upgradeSummary
	if c.upgrades > 0 {
		if up, err = b.upgradeRound(ctx, c.upgrades); err != nil {
			return nil, fmt.Errorf("upgrade: %w", err)
		}
	}
	total := load.Stop()
	report(c, crashes, up, total, time.Since(began))
	return goals(crashes, up), nil
}

// versions are hello's builds: the first release, then per round a good
// version and a bad one.
type versions struct {
	first     string
	good, bad []string
}

func buildVersions(ctx context.Context, p *project, rounds int) (versions, error) {
	var v versions
	if _, err := p.belay(ctx, "keys", "create"); err != nil {
		return v, err
	}
	orig, err := os.ReadFile(p.proj + "/main.go")
	if err != nil {
		return v, err
	}
	if v.first, err = p.version(ctx, "v1", p.greeting(orig, "", false)); err != nil {
		return v, err
	}
	for i := range rounds {
		g, err := p.version(ctx, fmt.Sprintf("good %d", i+1), p.greeting(orig, fmt.Sprintf("hi %d", i+1), false))
		if err != nil {
			return v, err
		}
		bad, err := p.version(ctx, fmt.Sprintf("bad %d", i+1), p.greeting(orig, fmt.Sprintf("hi %d", i+1), true))
		if err != nil {
			return v, err
		}
		v.good, v.bad = append(v.good, g), append(v.bad, bad)
	}
	return v, nil
}

func report(c config, crashes []crashResult, up upgradeSummary, total loadgen.Tally, took time.Duration) {
	fmt.Printf("\nexamples/hello under `belay up`, production canary 10 %% 5s → 50 %% 5s → 100 %%; load %g req/s (belay's loadgen, evenly spaced, keep-alive; %s) on production's proxy; %d CPUs; %s in all.\n\n",
		c.rate, retryMode(c.retry), runtime.NumCPU(), took.Round(time.Second))
	if len(crashes) > 0 {
		fmt.Println("Agent child killed with SIGKILL in a production canary step:")
		fmt.Println()
		fmt.Println("| round | killed in | refused | in flight at kill | failed | sent in the second after | failed / that second | sent again by the client: in flight / after the kill | new child pid | agent API again | proxy answers again | longest request | bad version's own 5xx | decision |")
		fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, r := range crashes {
			fmt.Printf("| %s | Canary[%d] +%s | %d | %d | %d | %d | %.2f %% | %d / %d | %s | %s | %s | %s | %d | %s |\n",
				r.name, r.step, ms(r.intoStep), r.refused, r.inFlight, len(r.failed), r.secondSent,
				100*float64(len(r.failed))/float64(max(r.secondSent, 1)), r.againInFlight, r.againLater, ms(r.pidBack), ms(r.apiBack), ms(r.proxyBack),
				ms(r.longest), r.own, decision(r))
		}
	}
	if len(up.runs) > 0 {
		fmt.Println()
		fmt.Println("`belay agent --upgrade` with no release running, each onto another build renamed over the binary:")
		fmt.Println()
		fmt.Println("| upgrade | took | old child drained and exited | new child runs the new file | requests sent meanwhile | sent again by the client | longest request |")
		fmt.Println("|---|---:|---:|---|---:|---:|---:|")
		for i, u := range up.runs {
			fmt.Printf("| %d | %s | %s | %v | %d | %d | %s |\n", i+1, ms(u.took), ms(u.drained), u.newBinary, u.sent, u.retried, ms(u.longest))
		}
		fmt.Printf("\nDuring the upgrades (%s): %d requests, %d failed, %d refused.\n", up.span.Round(time.Second), up.sent, len(up.failed), up.refused)
	}
	bad, own := total.Except(badVersions(crashes)...)
	fmt.Printf("Whole run: %d requests, %d answered below 500, %d 5xx answered by the bad versions (theirs), %d other failures, %d refused.\n",
		total.Sent, total.OK, own, len(bad), refused(bad))
}

func retryMode(retry bool) string {
	if retry {
		return "net/http sends a GET again when its keep-alive connection dies unanswered"
	}
	return "-retry=false: a request net/http would send again counts as failed"
}

func decision(r crashResult) string {
	s := r.phase
	switch r.phase {
	case "Succeeded":
		s = "promoted"
	case "RolledBack":
		s = "rolled back"
	}
	if r.reason != "" {
		s += " (" + r.reason + ")"
	}
	return s
}

func badVersions(crashes []crashResult) []string {
	var out []string
	for _, r := range crashes {
		if r.want == "RolledBack" {
			out = append(out, r.version)
		}
	}
	return out
}

// goals lists every goal a round missed.
func goals(crashes []crashResult, up upgradeSummary) []string {
	var out []string
	for _, r := range crashes {
		if r.refused > 0 {
			out = append(out, fmt.Sprintf("%s: %d connections refused (goal 0)", r.name, r.refused))
		}
		if n := len(r.failed); n > r.inFlight {
			out = append(out, fmt.Sprintf("%s: %d requests failed, more than the %d in flight at the kill", r.name, n, r.inFlight))
		}
		if n := len(r.failed); float64(n) > goalFailedShare*float64(r.secondSent) {
			out = append(out, fmt.Sprintf("%s: %d requests failed, %.2f %% of the %d sent in the second after the kill (goal ≤ %.1f %%)",
				r.name, n, 100*float64(n)/float64(max(r.secondSent, 1)), r.secondSent, 100*goalFailedShare))
		}
		if r.proxyBack >= goalRestart {
			out = append(out, fmt.Sprintf("%s: the proxy answered a new connection %s after the kill (goal < %s)", r.name, ms(r.proxyBack), goalRestart))
		}
		if r.phase != r.want || r.stable != r.wantStable {
			out = append(out, fmt.Sprintf("%s: rollout %d ended %s with %s stable in production; without the crash it ends %s with %s stable",
				r.name, r.rollout, r.phase, r.stable, r.want, r.wantStable))
		}
	}
	if len(up.failed) > 0 {
		out = append(out, fmt.Sprintf("upgrade: %d requests failed (goal 0), %d of them refused", len(up.failed), up.refused))
	}
	for i, u := range up.runs {
		if !u.newBinary {
			out = append(out, fmt.Sprintf("upgrade %d: the new child %d does not run the new binary", i+1, u.newPID))
		}
	}
	return out
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Microsecond).String()
}
