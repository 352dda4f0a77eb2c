package explain

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/hook"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/smoke"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the stories told now")

var t0 = time.Date(2026, 5, 12, 9, 0, 0, 0, time.UTC)

// base is a release of hello to production with a stable version beside it.
func base() rollout.State {
	return rollout.State{Config: rollout.Config{
		ID: "7", Release: "3", Service: "hello", Environment: "production",
		New:    target.Version{Version: "hello-2026.05.12-8f3a91c"},
		Stable: &target.Version{Version: "hello-2026.05.11-1c2d3e4"},
		Steps:  []rollout.Step{{Weight: 10, MinDuration: time.Minute}, {Weight: 50, MinDuration: time.Minute}, {Weight: 100}},
		Watch:  10 * time.Minute, Inconclusive: rollout.Extend,
	}}
}

// chain numbers transitions and spaces them by the seconds given in at.
type chain struct{ ts []rollout.Transition }

func (c *chain) add(sec float64, t rollout.Transition) *chain {
	t.Seq = int64(len(c.ts) + 1)
	t.At = t0.Add(time.Duration(sec * float64(time.Second)))
	c.ts = append(c.ts, t)
	return c
}

// toCanary is a release up to its first canary step in force (at 5 s).
func toCanary() *chain {
	smokeEv, _ := json.Marshal(map[string]any{"report": smoke.Report{Passed: true, Results: []smoke.Result{{Name: "root says hello", Passed: true}, {Name: "health", Passed: true}}}})
	c := &chain{}
	c.add(0, rollout.Transition{From: rollout.Pending, To: rollout.Verifying, Cause: rollout.Tick, Reason: "deployment started"})
	c.add(0.1, rollout.Transition{From: rollout.Verifying, To: rollout.Deploying, Cause: rollout.Done, Reason: "artifact verified"})
	c.add(3, rollout.Transition{From: rollout.Deploying, To: rollout.SmokeTesting, Cause: rollout.Done, Reason: "hello-2026.05.12-8f3a91c is running and healthy"})
	c.add(4, rollout.Transition{From: rollout.SmokeTesting, To: rollout.Canary, Cause: rollout.Done, Reason: "smoke tests passed", Evidence: smokeEv})
	c.add(5, rollout.Transition{From: rollout.Canary, To: rollout.Canary, Cause: rollout.Done, Reason: "step 1: 10% in force"})
	return c
}

func judged(sec float64, to rollout.Phase, v analysis.Verdict) rollout.Transition {
	return rollout.Transition{From: rollout.Canary, To: to, Cause: rollout.Judged, Reason: "analysis: " + v.Reason, Verdict: &v}
}

func rolledBack(c *chain, sec float64) *chain {
	last := c.ts[len(c.ts)-1]
	return c.add(sec, rollout.Transition{From: rollout.RollingBack, To: rollout.RolledBack, Cause: rollout.Done, Reason: last.Reason, Rejected: "hello-2026.05.12-8f3a91c"})
}

func seqEvidence(canary, stable float64, cn, sn int64) []analysis.Evidence {
	return []analysis.Evidence{
		{Check: "error_rate > 1% for 5m", State: "ok", Canary: canary, Threshold: 0.01, CanaryN: cn, StableN: sn},
		{Check: "sequential:errors", State: "firing", Canary: canary, Baseline: stable, Threshold: 100, Statistic: 412, CanaryN: cn, StableN: sn},
		{Check: "sequential:combined", State: "firing", Threshold: 100, Statistic: 206},
		{Check: "power", State: "pending", Canary: float64(cn), Threshold: 900, CanaryN: cn},
	}
}

type fixture struct {
	st rollout.State
	ts []rollout.Transition
}

func cases(t *testing.T) map[string]fixture {
	out := map[string]fixture{}
	add := func(name string, st rollout.State, c *chain) {
		st.Phase = c.ts[len(c.ts)-1].To
		out[name] = fixture{st, c.ts}
	}

	c := toCanary()
	c.add(9.2, judged(9.2, rollout.RollingBack, analysis.Verdict{Decision: analysis.Fail, Trigger: "sequential:errors",
		Reason: "canary worse than stable: e-values errors 412, latency 1 (average 206, threshold 100 at α = 0.01)", Evidence: seqEvidence(0.065, 0.001, 460, 4100)}))
	add("errors", base(), rolledBack(c, 9.3))

	c = toCanary()
	c.add(65, judged(65, rollout.RollingBack, analysis.Verdict{Decision: analysis.Fail, Trigger: "sequential:latency",
		Reason: "canary worse than stable: e-values errors 1, latency 230 (average 115, threshold 100 at α = 0.01)", Evidence: []analysis.Evidence{
			{Check: "sequential:errors", State: "ok", Threshold: 100, Statistic: 1, CanaryN: 800, StableN: 7200},
			{Check: "sequential:latency>120ms", State: "ok", Canary: 0.09, Baseline: 0.08, Threshold: 100, Statistic: 2, CanaryN: 800, StableN: 7200},
			{Check: "sequential:latency>250ms", State: "firing", Canary: 0.2, Baseline: 0.05, Threshold: 100, Statistic: 458, CanaryN: 800, StableN: 7200},
			{Check: "sequential:combined", State: "firing", Threshold: 100, Statistic: 115},
		}}))
	add("latency", base(), rolledBack(c, 65.2))

	c = toCanary()
	c.add(320, judged(320, rollout.RollingBack, analysis.Verdict{Decision: analysis.Fail, Trigger: "error_rate > 1% for 5m",
		Reason: `trigger "error_rate > 1% for 5m" fired: ...`, Evidence: []analysis.Evidence{
			{Check: "error_rate > 1% for 5m", State: "firing", Canary: 0.034, Threshold: 0.01, CanaryN: 1200, StableN: 10800},
			{Check: "sequential:errors", State: "ok", Canary: 0.034, Baseline: 0.02, Threshold: 100, Statistic: 3, CanaryN: 1200, StableN: 10800},
		}}))
	add("trigger", base(), rolledBack(c, 320.1))

	c = toCanary()
	c.add(80, judged(80, rollout.RollingBack, analysis.Verdict{Decision: analysis.Fail, Trigger: "p95_latency > baseline + 20% for 1m",
		Reason: `trigger fired`, Evidence: []analysis.Evidence{
			{Check: "p95_latency > baseline + 20% for 1m", State: "firing", Canary: 0.812, Baseline: 0.5, Threshold: 0.6, CanaryN: 400, StableN: 3600},
		}}))
	add("trigger_latency", base(), rolledBack(c, 80.1))

	// a trigger on a metric of metrics:, read from Prometheus per version
	c = toCanary()
	c.add(45, judged(45, rollout.RollingBack, analysis.Verdict{Decision: analysis.Fail, Trigger: "job_failure_rate > baseline + 20% for 30s",
		Reason: `trigger fired`, Evidence: []analysis.Evidence{
			{Check: "job_failure_rate > baseline + 20% for 30s", State: "firing", Canary: 0.09, Baseline: 0.02, Threshold: 0.024, Kind: spec.MetricRatio},
			{Check: "error_rate > 1% for 5m", State: "ok", Canary: 0.001, Threshold: 0.01, CanaryN: 900},
		}}))
	add("trigger_named", base(), rolledBack(c, 45.1))

	c = toCanary()
	c.add(70, judged(70, rollout.Paused, analysis.Verdict{Decision: analysis.Inconclusive, Policy: analysis.PolicyPause,
		Reason: "sample ratio mismatch: canary got 40 of 1000 requests at weight 10%", Evidence: []analysis.Evidence{
			{Check: "srm", State: "firing", Canary: 0.04, Baseline: 0.1, Threshold: 1000, Statistic: 2400, CanaryN: 40, StableN: 960},
		}}))
	add("srm", base(), c)

	c = toCanary()
	c.add(40, judged(40, rollout.Paused, analysis.Verdict{Decision: analysis.Inconclusive, Policy: analysis.PolicyPause,
		Reason: `metrics unavailable: prometheus: connection refused; never a pass without data`}))
	add("no_data", base(), c)

	c = toCanary()
	c.add(605, judged(605, rollout.RollingBack, analysis.Verdict{Decision: analysis.Inconclusive, Policy: analysis.PolicyRollback,
		Reason: "inconclusive after 10m0s: still waiting for traffic (46 of 192 canary requests)", Evidence: []analysis.Evidence{
			{Check: "power", State: "pending", Canary: 46, Threshold: 192, CanaryN: 46},
		}}))
	add("low_traffic", base(), rolledBack(c, 605.1))

	c = toCanary()
	c.add(20, judged(20, rollout.RollingBack, analysis.Verdict{Decision: analysis.Fail, Trigger: "health_check_failures > 3",
		Reason: "trigger fired", Evidence: []analysis.Evidence{
			{Check: "health_check_failures > 3", State: "firing", Canary: 5, Threshold: 3},
		}}))
	add("health", base(), rolledBack(c, 20.1))

	c = &chain{}
	c.add(0, rollout.Transition{From: rollout.Pending, To: rollout.Verifying, Cause: rollout.Tick, Reason: "deployment started"})
	c.add(0.1, rollout.Transition{From: rollout.Verifying, To: rollout.Deploying, Cause: rollout.Done, Reason: "artifact verified"})
	c.add(10.1, rollout.Transition{From: rollout.Deploying, To: rollout.RollingBack, Cause: rollout.Failure, Action: rollout.StartVersion,
		Reason: "start_version failed: hello-2026.05.12-8f3a91c is unhealthy: GET /healthz answered 503 three times"})
	add("health_deploy", base(), rolledBack(c, 10.2))

	smokeEv, _ := json.Marshal(map[string]any{"target": "http://127.0.0.1:8080", "report": smoke.Report{Results: []smoke.Result{
		{Name: "root says hello", Target: "GET http://127.0.0.1:8080/", Passed: false, Status: 500, Error: "status 500, expected 200"},
		{Name: "health", Target: "GET http://127.0.0.1:8080/healthz", Passed: true, Status: 200},
	}}})
	c = &chain{}
	c.add(0, rollout.Transition{From: rollout.Pending, To: rollout.Verifying, Cause: rollout.Tick, Reason: "deployment started"})
	c.add(0.1, rollout.Transition{From: rollout.Verifying, To: rollout.Deploying, Cause: rollout.Done, Reason: "artifact verified"})
	c.add(3, rollout.Transition{From: rollout.Deploying, To: rollout.SmokeTesting, Cause: rollout.Done, Reason: "running and healthy"})
	c.add(3.4, rollout.Transition{From: rollout.SmokeTesting, To: rollout.RollingBack, Cause: rollout.Failure, Action: rollout.RunSmoke,
		Reason: "run_smoke failed: smoke tests failed: 1 of 2", Evidence: smokeEv})
	add("smoke", base(), rolledBack(c, 3.5))

	hookEv, _ := json.Marshal([]hook.Result{{Name: "migrate", Command: "./migrate up", ExitCode: 3, Output: "applying 0042_orders\nschema locked\n", Duration: 1200 * time.Millisecond}})
	st := base()
	st.Hooks = true
	c = &chain{}
	c.add(0, rollout.Transition{From: rollout.Pending, To: rollout.Verifying, Cause: rollout.Tick, Reason: "deployment started"})
	c.add(0.1, rollout.Transition{From: rollout.Verifying, To: rollout.Migrating, Cause: rollout.Done, Reason: "artifact verified"})
	c.add(1.4, rollout.Transition{From: rollout.Migrating, To: rollout.Failed, Cause: rollout.Failure, Action: rollout.RunHooks,
		Reason: "run_hooks failed: hook migrate: exit status 3; no traffic moved", Evidence: hookEv})
	add("migration", st, c)

	c = toCanary()
	manual := func(sec float64, from, to rollout.Phase, kind rollout.CommandKind, actor, reason string) {
		c.add(sec, rollout.Transition{From: from, To: to, Cause: rollout.Manual, Command: kind, Actor: actor, Override: true, Reason: reason})
	}
	manual(30, rollout.Canary, rollout.Paused, rollout.CmdPause, "bob", "pause by bob: looking at logs")
	manual(90, rollout.Paused, rollout.Canary, rollout.CmdResume, "bob", "resume by bob: logs are clean")
	c.add(90.1, rollout.Transition{From: rollout.Canary, To: rollout.Canary, Cause: rollout.Done, Reason: "step 1: 10% in force"})
	manual(120, rollout.Canary, rollout.Promoting, rollout.CmdPromote, "alice", "promote by alice: release train leaves at noon (analysis skipped)")
	c.add(121, rollout.Transition{From: rollout.Promoting, To: rollout.Succeeded, Cause: rollout.Done, Reason: "hello-2026.05.12-8f3a91c is stable in production"})
	add("manual_promote", base(), c)

	c = toCanary()
	manual(45, rollout.Canary, rollout.RollingBack, rollout.CmdAbort, "carol", "abort by carol: wrong build")
	add("manual_abort", base(), rolledBack(c, 45.1))

	st = base()
	st.Kind = rollout.KindRollback
	st.RollbackTo = &target.Version{Version: "hello-2026.05.01-0a0b0c0"}
	c = &chain{}
	manual(0, rollout.Pending, rollout.RollingBack, rollout.CmdRollback, "dave", "rollback by dave: orders fail since noon")
	c.add(1, rollout.Transition{From: rollout.RollingBack, To: rollout.RolledBack, Cause: rollout.Done, Reason: "rollback by dave: orders fail since noon"})
	add("manual_rollback", st, c)

	st = base()
	st.Stable = nil
	c = toCanary()
	c.ts[2].Reason = "running and healthy"
	c.add(65, judged(65, rollout.Canary, analysis.Verdict{Decision: analysis.Pass,
		Reason: "no rollback trigger firing or pending for the step's minimum duration (1m0s); triggers only, as a first release", Evidence: []analysis.Evidence{
			{Check: "error_rate > 1% for 5m", State: "ok", Canary: 0, CanaryN: 900, Threshold: 0.01},
			{Check: "health_check_failures", State: "ok"},
		}}))
	add("first_release_pass", st, c)

	// The same with no traffic at all: the rules passed, but saw nothing.
	st = base()
	st.Stable = nil
	c = toCanary()
	c.ts[2].Reason = "running and healthy"
	c.add(65, judged(65, rollout.Canary, analysis.Verdict{Decision: analysis.Pass,
		Reason: "no rollback trigger firing or pending for the step's minimum duration (1m0s); triggers only, as a first release", Evidence: []analysis.Evidence{
			{Check: "error_rate > 1% for 5m", State: "ok"},
			{Check: "health_check_failures", State: "ok"},
		}}))
	add("no_traffic_pass", st, c)

	st = base()
	st.MigrationType, st.Migrated = rollout.ContractMigration, true
	c = toCanary()
	v := analysis.Verdict{Decision: analysis.Fail, Trigger: "sequential:errors", Reason: "canary worse than stable", Evidence: seqEvidence(0.12, 0.002, 300, 2700)}
	c.add(30, rollout.Transition{From: rollout.Canary, To: rollout.Paused, Cause: rollout.Judged, Verdict: &v,
		Reason: "analysis failed: canary worse than stable; a contract migration ran, so belay will not roll back by itself"})
	add("contract_pause", st, c)

	shadowFixtures(add)

	for _, name := range []string{"demo_rollback", "demo_promoted"} {
		st, ts := loadView(t, filepath.Join("testdata", name+".json"))
		out[name] = fixture{st, ts}
	}
	return out
}

// loadView reads a rollout as `belay explain -o json` printed it.
func loadView(t *testing.T, path string) (rollout.State, []rollout.Transition) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		State       rollout.State        `json:"state"`
		Transitions []rollout.Transition `json:"transitions"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.State, v.Transitions
}

func render(e Explanation, ts []rollout.Transition) string {
	var b strings.Builder
	byseq := map[int64]rollout.Transition{}
	for _, t := range ts {
		byseq[t.Seq] = t
	}
	show := func(title string, d Decision) {
		t := byseq[d.Seq]
		fmt.Fprintf(&b, "%s %d %s → %s\n", title, d.Seq, t.From, t.To)
		for _, s := range d.Story {
			fmt.Fprintf(&b, "  %s\n", s)
		}
		if d.Next != "" {
			fmt.Fprintf(&b, "  next: %s\n", d.Next)
		}
	}
	if e.Summary != nil {
		show("summary", *e.Summary)
	}
	for _, d := range e.Decisions {
		show("seq", d)
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	for name, f := range cases(t) {
		t.Run(name, func(t *testing.T) {
			e := Rollout(f.st, f.ts)
			got := render(e, f.ts)
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the story told now (rerun with -update and review the diff):\n%s", path, got)
			}
			if e.Summary == nil {
				t.Errorf("no summary")
			}
			for _, d := range e.Decisions {
				for _, s := range append(d.Story, d.Next) {
					if w := JargonIn(s); w != "" {
						t.Errorf("seq %d: %q in the plain layer: %s", d.Seq, w, s)
					}
				}
			}
		})
	}
}

// TestDemoRollbackSummary: the demo's rollback says what failed, by how
// much and what belay did, in its summary's plain sentences.
func TestDemoRollbackSummary(t *testing.T) {
	st, ts := loadView(t, filepath.Join("testdata", "demo_rollback.json"))
	s := Rollout(st, ts).Summary
	if s == nil || len(s.Story) < 2 {
		t.Fatalf("summary %+v: want two sentences", s)
	}
	text := strings.Join(s.Story, " ")
	for _, want := range []string{"failed 6.5 % of its 46 requests (3)", "the stable version 0 % of its 381", "worse with 99 % confidence",
		"rolled it back after it had taken traffic for 2.8 s", "all traffic goes back to hello-2026.12.01-175941d"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
}

func TestWords(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{pct(0.0652), "6.5 %"}, {pct(0.001), "0.1 %"}, {pct(0), "0 %"}, {pct(0.304), "30 %"}, {pct(1), "100 %"}, {pct(0.000123), "0.012 %"},
		{dur(2800 * time.Millisecond), "2.8 s"}, {dur(5 * time.Minute), "5 min"}, {dur(330 * time.Second), "5 min 30 s"}, {dur(65 * time.Minute), "1 h 5 min"},
		{seconds(0.812), "812 ms"}, {seconds(0.005198), "5.2 ms"}, {seconds(1.5), "1.5 s"},
		{confidence(100), "99 %"}, {confidence(20), "95 %"}, {confidence(1000), "99.9 %"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// shadowFixtures are releases whose first step is a shadow (or replay)
// step, judged on pairs of answers to the same requests.
func shadowFixtures(add func(string, rollout.State, *chain)) {
	shadowState := func(first rollout.Step) rollout.State {
		st := base()
		st.Steps = append([]rollout.Step{first}, st.Steps...)
		return st
	}
	toShadow := func(what string) *chain {
		c := toCanary()
		c.ts[len(c.ts)-1].Reason = "step 1: " + what + " in force"
		return c
	}
	pairEv := func(state string, newWorse, stableWorse, pairs int64, e float64) []analysis.Evidence {
		return []analysis.Evidence{
			{Check: "shadow:errors", State: state, Canary: float64(newWorse) / float64(pairs), Baseline: float64(stableWorse) / float64(pairs),
				Threshold: 100, Statistic: e, CanaryN: pairs, StableN: pairs, NewWorse: newWorse, StableWorse: stableWorse},
			{Check: "shadow:latency>25ms", State: "ok", Threshold: 100, Statistic: 1.4, CanaryN: pairs, StableN: pairs, NewWorse: 40, StableWorse: 38},
			{Check: "shadow:combined", State: state, Threshold: 100, Statistic: e / 2},
			{Check: "shadow:pairs", State: "pending", Canary: float64(pairs), Threshold: 2300, CanaryN: pairs},
		}
	}
	c := toShadow("shadow of 100% of requests")
	c.add(6.4, judged(6.4, rollout.RollingBack, analysis.Verdict{Decision: analysis.Fail, Trigger: "shadow:errors",
		Reason: "v2 worse than v1 on the same mirrored requests", Evidence: pairEv("firing", 14, 0, 280, 410)}))
	add("shadow_errors", shadowState(rollout.Step{Shadow: 100, MinDuration: time.Minute}), rolledBack(c, 6.5))

	c = toShadow("shadow of 100% of requests")
	ev := pairEv("ok", 3, 2, 9000, 1.1)
	ev[1] = analysis.Evidence{Check: "shadow:latency>25ms", State: "firing", Threshold: 100, Statistic: 900, CanaryN: 9000, StableN: 9000, NewWorse: 610, StableWorse: 420}
	c.add(45, judged(45, rollout.RollingBack, analysis.Verdict{Decision: analysis.Fail, Trigger: "shadow:latency", Reason: "slower", Evidence: ev}))
	add("shadow_slow", shadowState(rollout.Step{Shadow: 100, MinDuration: time.Minute}), rolledBack(c, 45.1))

	c = toShadow("shadow of 50% of requests")
	ev = pairEv("ok", 4, 5, 6100, 0.4)
	ev[3].State = "passed"
	c.add(65, judged(65, rollout.Canary, analysis.Verdict{Decision: analysis.Pass, Reason: "no worse", Evidence: ev}))
	c.ts[len(c.ts)-1].Step = 1
	add("shadow_pass", shadowState(rollout.Step{Shadow: 50, MinDuration: time.Minute}), c)

	st := shadowState(rollout.Step{Replay: "production", MinDuration: time.Minute})
	st.Environment = "staging"
	c = toShadow("replay of production's requests")
	c.add(12, judged(12, rollout.RollingBack, analysis.Verdict{Decision: analysis.Fail, Trigger: "shadow:errors",
		Reason: "worse on replayed requests", Evidence: pairEv("firing", 21, 1, 430, 380)}))
	add("replay_errors", st, rolledBack(c, 12.1))

	c = toShadow("shadow of 100% of requests")
	ev = pairEv("firing", 900, 1, 1100, 1e9)
	ev = append(ev, analysis.Evidence{Check: "shadow:unserved", State: "firing", Canary: 880, CanaryN: 1100})
	c.add(6, judged(6, rollout.RollingBack, analysis.Verdict{Decision: analysis.Fail, Trigger: "shadow:errors", Reason: "crashing", Evidence: ev}))
	add("shadow_crash", shadowState(rollout.Step{Shadow: 100, MinDuration: time.Minute}), rolledBack(c, 6.1))

	c = toShadow("replay of production's requests")
	c.add(40, judged(40, rollout.Canary, analysis.Verdict{Decision: analysis.Pass, Reason: "no worse", Evidence: ev}))
	c.ts[len(c.ts)-1].Step = 1
	add("replay_pass", st, c)
}
