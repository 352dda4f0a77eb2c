package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
)

// canaryAt walks a rollout to step 0 of its canary with weights in force at t0.
func canaryAt(t *testing.T, cfg Config) State {
	s, err := New(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	s = walk(t, s, Observation{Kind: Tick})
	for i := 0; i < 8 && (s.Phase != Canary || s.StepStarted.IsZero()); i++ {
		s = walk(t, s, Observation{Kind: Done})
	}
	if s.Phase != Canary || s.StepStarted.IsZero() || len(s.Pending) != 0 {
		t.Fatalf("not in a running canary: %+v", s)
	}
	return s
}

func verdict(s State, d analysis.Decision) Observation {
	return Observation{Kind: Judged, Seq: s.Seq, Verdict: &analysis.Verdict{Decision: d, Reason: "r"}}
}

func TestStaleResultsAreIgnored(t *testing.T) {
	s := canaryAt(t, testConfig())
	for _, o := range []Observation{
		{Kind: Done, Seq: s.Seq - 1},
		{Kind: Failure, Seq: s.Seq - 1, Action: RunSmoke},
		{Kind: Judged, Seq: s.Seq - 1, Verdict: &analysis.Verdict{Decision: analysis.Fail}},
		{Kind: Done, Seq: s.Seq}, // nothing pending
	} {
		next, acts := Next(s, o, t0.Add(time.Hour))
		if next.Seq != s.Seq || acts != nil {
			t.Errorf("%+v moved the rollout to %s", o, next.Phase)
		}
	}
}

func TestTickInCanaryAsksForAnalysisOnly(t *testing.T) {
	s := canaryAt(t, testConfig())
	next, acts := Next(s, Observation{Kind: Tick}, t0)
	if next.Seq != s.Seq || len(acts) != 1 || acts[0].Kind != Analyze {
		t.Fatalf("acts %v", acts)
	}
}

func TestPassWaitsForMinDuration(t *testing.T) {
	s := canaryAt(t, testConfig())
	if next, _ := Next(s, verdict(s, analysis.Pass), t0.Add(59*time.Second)); next.Seq != s.Seq || next.LastVerdict != nil {
		t.Fatalf("advanced before the minimum: step %d", next.Step)
	}
	next, acts := Next(s, verdict(s, analysis.Pass), t0.Add(time.Minute))
	if next.Step != 1 || next.Seq != s.Seq+1 || next.LastVerdict == nil {
		t.Fatalf("did not advance: %+v", next)
	}
	last := acts[len(acts)-1]
	if last.Kind != SetWeights || last.Desired.Versions[0].Weight != 50 || last.Desired.Versions[1].Weight != 50 {
		t.Fatalf("actions %+v", acts)
	}
	if acts[0].Kind != Emit || acts[0].Event.Event != "canary_step" || !strings.Contains(acts[0].Event.Reason, "step 2/3: 50%") {
		t.Fatalf("event %+v", acts[0].Event)
	}
}

func TestInconclusivePolicies(t *testing.T) {
	for _, tc := range []struct {
		policy InconclusivePolicy
		after  time.Duration
		want   Phase
	}{
		{Extend, time.Minute, Canary},       // still within minimum + limit
		{Extend, 2*time.Minute - 1, Canary}, // limit defaults to the step's minimum
		{Extend, 2 * time.Minute, Paused},   // then a person must decide
		{PauseOn, time.Second, Paused},
		{Rollback, time.Second, RollingBack},
	} {
		c := testConfig()
		c.Inconclusive = tc.policy
		s := canaryAt(t, c)
		next, _ := Next(s, verdict(s, analysis.Inconclusive), t0.Add(tc.after))
		if next.Phase != tc.want {
			t.Errorf("%s after %s: %s, want %s", tc.policy, tc.after, next.Phase, tc.want)
		}
		if next.Phase == Paused && (!next.Pause.NeedsHuman || next.Pause.From != Canary) {
			t.Errorf("%s: pause %+v", tc.policy, next.Pause)
		}
	}
}

// TestVerdictPolicyOverrides: a verdict naming its own policy (e.g. metrics
// unavailable → rollback) wins over the rollout's inconclusive policy.
func TestVerdictPolicyOverrides(t *testing.T) {
	for _, tc := range []struct {
		rollout InconclusivePolicy
		verdict analysis.Policy
		want    Phase
	}{
		{Extend, analysis.PolicyRollback, RollingBack},
		{Extend, analysis.PolicyPause, Paused},
		{Rollback, analysis.PolicyExtend, Canary},
		{PauseOn, "", Paused},
	} {
		c := testConfig()
		c.Inconclusive = tc.rollout
		s := canaryAt(t, c)
		v := verdict(s, analysis.Inconclusive)
		v.Verdict.Policy = tc.verdict // Verdict is a fresh pointer per call
		if next, _ := Next(s, v, t0.Add(time.Second)); next.Phase != tc.want {
			t.Errorf("rollout %s, verdict %q: %s, want %s", tc.rollout, tc.verdict, next.Phase, tc.want)
		}
	}
}

func TestFailInEarlyPhasesFailsWithoutRollback(t *testing.T) {
	s, _ := New(testConfig(), t0)
	s = walk(t, s, Observation{Kind: Tick})
	next, acts := Next(s, Observation{Kind: Failure, Seq: s.Seq, Action: Verify, Error: "signature invalid"}, t0)
	if next.Phase != Failed || !strings.Contains(next.Reason, "verify failed: signature invalid; no traffic moved") {
		t.Fatalf("%s: %s", next.Phase, next.Reason)
	}
	for _, a := range acts {
		if a.Kind != Emit {
			t.Errorf("failure acted: %+v", a)
		}
	}
	if !next.Active() {
		t.Error("the failure event is pending, yet the state is not active")
	}
	if settled, _ := Next(next, Observation{Kind: Done, Seq: next.Seq}, t0); settled.Active() || settled.Phase != Failed {
		t.Errorf("settled %+v", settled)
	}
}

func TestFailureWhileRollingBackAsksForAPerson(t *testing.T) {
	s := canaryAt(t, testConfig())
	s, _ = Next(s, verdict(s, analysis.Fail), t0)
	if s.Phase != RollingBack {
		t.Fatal(s.Phase)
	}
	next, _ := Next(s, Observation{Kind: Failure, Seq: s.Seq, Action: SetWeights, Error: "artifact unusable"}, t0)
	if next.Phase != Paused || !next.Pause.NeedsHuman || next.Pause.From != RollingBack {
		t.Fatalf("%s %+v", next.Phase, next.Pause)
	}
}

// Post hooks run after traffic moved: post_promote once the new version
// takes all traffic and is stable, post_rollback once traffic is back. A
// failing one pauses for a person and leaves traffic where it is.
func TestPostHooksRunAfterTrafficMoved(t *testing.T) {
	cfg := testConfig()
	cfg.PostHooks = true
	for _, tc := range []struct {
		d     analysis.Decision
		phase Phase
	}{{analysis.Pass, Promoting}, {analysis.Fail, RollingBack}} {
		s := canaryAt(t, cfg)
		for s.Phase == Canary {
			s, _ = Next(s, verdict(s, tc.d), t0.Add(time.Hour))
			if s.Phase == Canary {
				s = walk(t, s, Observation{Kind: Done})
			}
		}
		if s.Phase != tc.phase {
			t.Fatalf("%s: in %s", tc.d, s.Phase)
		}
		var kinds []ActionKind
		for _, a := range s.Pending {
			if a.Kind != Emit {
				kinds = append(kinds, a.Kind)
			}
		}
		if len(kinds) == 0 || kinds[len(kinds)-1] != RunHooks {
			t.Fatalf("%s: actions %v, want the hooks last", tc.phase, kinds)
		}
		next, acts := Next(s, Observation{Kind: Failure, Seq: s.Seq, Action: RunHooks, Error: "exit status 1"}, t0)
		if next.Phase != Paused || !next.Pause.NeedsHuman || next.Pause.From != tc.phase {
			t.Fatalf("%s: a failing hook left %s %+v", tc.phase, next.Phase, next.Pause)
		}
		for _, a := range acts {
			if a.Kind == SetWeights || a.Kind == StopVersion {
				t.Errorf("%s: a failing hook moved traffic: %+v", tc.phase, a)
			}
		}
	}
	cfg.PostHooks = false
	s := canaryAt(t, cfg)
	s, _ = Next(s, verdict(s, analysis.Fail), t0)
	for _, a := range s.Pending {
		if a.Kind == RunHooks {
			t.Fatal("a rollout without post hooks runs hooks when rolling back")
		}
	}
}

// TestInfrastructurePlanPhase: with the infrastructure check, a verified
// artifact goes to InfrastructurePlan, whose action checks the stack; a
// clean (or warned) check deploys, quoting the check's summary with its
// evidence; a blocking check fails the rollout before any traffic moved.
func TestInfrastructurePlanPhase(t *testing.T) {
	cfg := testConfig()
	cfg.InfraCheck = true
	s, _ := New(cfg, t0)
	s = walk(t, s, Observation{Kind: Tick}, Observation{Kind: Done})
	if s.Phase != InfrastructurePlan {
		t.Fatalf("after verifying: %s, want InfrastructurePlan", s.Phase)
	}
	var check bool
	for _, a := range s.Pending {
		check = check || a.Kind == CheckInfra
	}
	if !check {
		t.Fatalf("InfrastructurePlan's actions = %+v, want check_infra", s.Pending)
	}
	ev := []byte(`{"summary":"warning: 1 pending change (infrastructure.on_pending: warn)"}`)
	next, _ := Next(s, Observation{Kind: Done, Seq: s.Seq, Evidence: ev}, t0)
	if next.Phase != Deploying || next.Reason != "infrastructure plan: warning: 1 pending change (infrastructure.on_pending: warn)" {
		t.Fatalf("after the check: %s %q", next.Phase, next.Reason)
	}
	next, _ = Next(s, Observation{Kind: Failure, Seq: s.Seq, Action: CheckInfra, Error: "1 pending change", Evidence: ev}, t0)
	if next.Phase != Failed || !strings.Contains(next.Reason, "check_infra failed: 1 pending change; no traffic moved") {
		t.Fatalf("a blocking check: %s %q", next.Phase, next.Reason)
	}
	// without the check, verifying goes straight on
	s, _ = New(testConfig(), t0)
	if s = walk(t, s, Observation{Kind: Tick}, Observation{Kind: Done}); s.Phase == InfrastructurePlan {
		t.Fatal("InfrastructurePlan without the check")
	}
}
