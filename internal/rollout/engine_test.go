package rollout_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/smoke"
	"github.com/belay-dev/belay/internal/target"
)

func want(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

func TestAllAtOnceHappyPath(t *testing.T) {
	h := newHarness(t)
	h.create(config("r1", rollout.AllAtOnce))
	s := h.runUntil("r1", rollout.Succeeded, 20)
	want(t, "path", h.path("r1"), []string{
		"Pending>Verifying", "Verifying>Deploying", "Deploying>SmokeTesting", "SmokeTesting>Canary0",
		"Canary>Canary0", "Canary>Promoting", "Promoting>Succeeded",
	})
	want(t, "weights", h.weightsApplied(), []string{"api-v1=100,api-v2=0", "api-v1=0,api-v2=100", "api-v2=100"})
	want(t, "stable", h.stables(), []string{"production:api-v2"})
	want(t, "events", h.kinds(), []string{
		event.DeploymentStarted, event.PhaseChanged, event.PhaseChanged, event.CanaryStep, event.PhaseChanged, event.DeploymentPromoted,
	})
	if s.Active() || len(s.Pending) != 0 {
		t.Errorf("final state still active: %+v", s)
	}
	d := h.target.Applied()[0]
	if d.Listen != "127.0.0.1:8080" || d.Environment != "production" || d.Versions[1].Artifact != "sha256:api-v2" {
		t.Errorf("desired state lost the config: %+v", d)
	}
}

func TestCanaryHappyPathHoldsEachStep(t *testing.T) {
	h := newHarness(t)
	h.create(config("r1", rollout.Staged))
	h.runUntil("r1", rollout.Succeeded, 40)
	want(t, "weights", h.weightsApplied(), []string{
		"api-v1=100,api-v2=0", "api-v1=95,api-v2=5", "api-v1=75,api-v2=25", "api-v1=50,api-v2=50",
		"api-v1=0,api-v2=100", "api-v2=100",
	})
	// Each step advances only once its weights were in force for its 10 s.
	var inForce time.Time
	for _, tr := range h.store.History("r1") {
		if tr.From == rollout.Canary && tr.To == rollout.Canary && tr.Cause == rollout.Done {
			inForce = tr.At
		}
		if tr.From == rollout.Canary && tr.Cause == rollout.Judged {
			if held := tr.At.Sub(inForce); held < 10*time.Second {
				t.Errorf("step left after %s: %+v", held, tr)
			}
			if tr.Verdict == nil || tr.Verdict.Decision != analysis.Pass {
				t.Errorf("transition without its verdict: %+v", tr)
			}
		}
	}
	steps := 0
	for _, e := range h.events() {
		if e.Event == event.CanaryStep {
			steps++
			if e.PreviousStable != "api-v1" || e.Version != "api-v2" || e.Rollout != "r1" || e.ID == "" {
				t.Errorf("event lacks identifiers: %+v", e)
			}
		}
	}
	if steps != 4 {
		t.Errorf("%d canary_step events, want 4", steps)
	}
}

func TestBadCanaryRolledBack(t *testing.T) {
	h := newHarness(t)
	h.verdict = func(s rollout.State) analysis.Decision {
		if s.Step == 1 {
			return analysis.Fail
		}
		return analysis.Pass
	}
	h.create(config("r1", rollout.CanaryStrategy))
	s := h.runUntil("r1", rollout.RolledBack, 40)
	want(t, "weights", h.weightsApplied(), []string{
		"api-v1=100,api-v2=0", "api-v1=95,api-v2=5", "api-v1=75,api-v2=25", "api-v1=100",
	})
	if len(h.stables()) != 0 {
		t.Errorf("stable marked %v", h.stables())
	}
	if !strings.Contains(s.Reason, "analysis failed: scripted fail at step 2") {
		t.Errorf("reason %q", s.Reason)
	}
	last := h.events()[len(h.events())-1]
	if last.Event != event.DeploymentRolledBack || last.HealthStatus != "failing" || !strings.Contains(last.Reason, "analysis failed") {
		t.Errorf("last event %+v", last)
	}
}

func TestSmokeFailureStopsBeforeTraffic(t *testing.T) {
	h := newHarness(t)
	h.smokeErr = fmt.Errorf("%w: health: status 500", smoke.ErrFailed)
	h.create(config("r1", rollout.CanaryStrategy))
	s := h.runUntil("r1", rollout.RolledBack, 20)
	want(t, "weights", h.weightsApplied(), []string{"api-v1=100,api-v2=0", "api-v1=100"})
	var failure rollout.Transition
	for _, tr := range h.store.History("r1") {
		if tr.Cause == rollout.Failure {
			failure = tr
		}
	}
	if failure.Action != rollout.RunSmoke || string(failure.Evidence) != `{"passed":false}` || !strings.Contains(s.Reason, "status 500") {
		t.Errorf("failure not recorded with evidence: %+v, reason %q", failure, s.Reason)
	}
}

func TestFailedMigrationMovesNoTraffic(t *testing.T) {
	h := newHarness(t)
	h.hookErr = fmt.Errorf("%w: exit status 1", rollout.ErrActionFailed)
	cfg := config("r1", rollout.CanaryStrategy)
	cfg.Hooks = true
	h.create(cfg)
	s := h.runUntil("r1", rollout.Failed, 20)
	if len(h.target.Applied()) != 0 {
		t.Errorf("target touched: %v", h.weightsApplied())
	}
	if !strings.Contains(s.Reason, "no traffic moved") || s.Migrated {
		t.Errorf("state %+v", s)
	}
}

func TestTransientErrorsAreRetried(t *testing.T) {
	h := newHarness(t)
	h.target.Fail("api-v2", errors.New("agent unreachable"))
	h.create(config("r1", rollout.AllAtOnce))
	for range 5 {
		h.tick()
	}
	if s := h.get("r1"); s.Phase != rollout.Deploying {
		t.Fatalf("phase %s, want Deploying while the target is unreachable", s.Phase)
	}
	h.target.Fail("api-v2", nil)
	h.runUntil("r1", rollout.Succeeded, 20)
}

func TestDeployFailureRollsBack(t *testing.T) {
	h := newHarness(t)
	h.target.Fail("api-v2", fmt.Errorf("%w: /healthz 503", target.ErrUnhealthy))
	h.create(config("r1", rollout.AllAtOnce))
	h.runUntil("r1", rollout.RolledBack, 20)
	want(t, "weights", h.weightsApplied(), []string{"api-v1=100"})
}

func TestPauseResume(t *testing.T) {
	h := newHarness(t)
	h.create(config("r1", rollout.CanaryStrategy))
	for h.get("r1").Step < 1 {
		h.tick()
	}
	s := h.command("r1", rollout.Command{Kind: rollout.CmdPause, Actor: "alice", Reason: "looking at logs"})
	if s.Phase != rollout.Paused || s.Pause.From != rollout.Canary {
		t.Fatalf("state %+v", s)
	}
	applied, judged := len(h.target.Applied()), h.judged
	for range 10 {
		h.tick()
	}
	if len(h.target.Applied()) != applied || h.judged != judged || h.get("r1").Phase != rollout.Paused {
		t.Fatal("a paused rollout moved")
	}
	h.command("r1", rollout.Command{Kind: rollout.CmdResume, Actor: "alice"})
	h.runUntil("r1", rollout.Succeeded, 40)
	var overrides []string
	for _, tr := range h.store.History("r1") {
		if tr.Override {
			overrides = append(overrides, fmt.Sprintf("%s:%s:%s", tr.Command, tr.Actor, tr.Reason))
		}
	}
	want(t, "overrides", overrides, []string{"pause:alice:pause by alice: looking at logs", "resume:alice:resume by alice"})
	if !slices.Contains(h.kinds(), event.DeploymentPaused) || !slices.Contains(h.kinds(), event.DeploymentResumed) {
		t.Errorf("events %v", h.kinds())
	}
}

func TestManualPromoteSkipsAnalysis(t *testing.T) {
	h := newHarness(t)
	h.verdict = func(rollout.State) analysis.Decision { return analysis.Continue }
	h.create(config("r1", rollout.CanaryStrategy))
	for range 10 {
		h.tick()
	}
	if s := h.get("r1"); s.Phase != rollout.Canary || s.Step != 0 {
		t.Fatalf("continue verdicts moved the rollout: %s step %d", s.Phase, s.Step)
	}
	h.command("r1", rollout.Command{Kind: rollout.CmdPromote, Actor: "bob", Reason: "hotfix"})
	h.runUntil("r1", rollout.Succeeded, 10)
	want(t, "weights", h.weightsApplied(), []string{"api-v1=100,api-v2=0", "api-v1=95,api-v2=5", "api-v2=100"})
}

func TestAbort(t *testing.T) {
	h := newHarness(t)
	h.verdict = func(rollout.State) analysis.Decision { return analysis.Continue }
	h.create(config("r1", rollout.CanaryStrategy))
	for range 4 {
		h.tick()
	}
	h.command("r1", rollout.Command{Kind: rollout.CmdAbort, Actor: "carol", Reason: "wrong build"})
	s := h.runUntil("r1", rollout.RolledBack, 10)
	if got := h.target.Weights("production", "api"); len(got) != 1 || got["api-v1"] != 100 {
		t.Errorf("weights %v", got)
	}
	if !strings.Contains(s.Reason, "abort by carol: wrong build") {
		t.Errorf("reason %q", s.Reason)
	}
}

func TestRollbackToOlderVersion(t *testing.T) {
	h := newHarness(t)
	h.verdict = func(rollout.State) analysis.Decision { return analysis.Continue }
	h.create(config("r1", rollout.CanaryStrategy))
	for range 4 {
		h.tick()
	}
	v0 := version("api-v0")
	h.command("r1", rollout.Command{Kind: rollout.CmdRollback, Actor: "dan", Reason: "v1 has the bug too", To: &v0})
	h.runUntil("r1", rollout.RolledBack, 10)
	if got := h.target.Weights("production", "api"); len(got) != 1 || got["api-v0"] != 100 {
		t.Errorf("weights %v", got)
	}
	want(t, "stable", h.stables(), []string{"production:api-v0"})
}

func TestApprovalWaits(t *testing.T) {
	h := newHarness(t)
	cfg := config("r1", rollout.AllAtOnce)
	cfg.RequireApproval = true
	h.create(cfg)
	for range 5 {
		h.tick()
	}
	if s := h.get("r1"); s.Phase != rollout.AwaitingApproval || len(h.target.Applied()) != 0 {
		t.Fatalf("phase %s, applied %v", s.Phase, h.weightsApplied())
	}
	if _, err := h.eng.Command(t.Context(), "r1", rollout.Command{Kind: rollout.CmdPromote, Actor: "erin"}); !errors.Is(err, rollout.ErrNotAllowed) {
		t.Errorf("promote before deploy: %v", err)
	}
	h.command("r1", rollout.Command{Kind: rollout.CmdApprove, Actor: "erin", Reason: "change 42"})
	s := h.runUntil("r1", rollout.Succeeded, 20)
	if s.Approval == nil || s.Approval.Actor != "erin" {
		t.Errorf("approval not kept: %+v", s.Approval)
	}
	want(t, "first events", h.kinds()[:3], []string{event.DeploymentStarted, event.ApprovalRequired, event.ApprovalGranted})
}

func TestContractMigrationRefusesAutoRollback(t *testing.T) {
	h := newHarness(t)
	h.verdict = func(rollout.State) analysis.Decision { return analysis.Fail }
	cfg := config("r1", rollout.CanaryStrategy)
	cfg.Hooks, cfg.MigrationType = true, rollout.ContractMigration
	h.create(cfg)
	s := h.runUntil("r1", rollout.Paused, 20)
	if s.Pause == nil || !s.Pause.NeedsHuman || !strings.Contains(s.Reason, "contract migration") {
		t.Fatalf("state %+v", s)
	}
	weights := h.target.Weights("production", "api")
	for range 5 {
		h.tick()
	}
	if got := h.target.Weights("production", "api"); got["api-v2"] != weights["api-v2"] || h.get("r1").Phase != rollout.Paused {
		t.Fatalf("weights moved by themselves: %v → %v", weights, got)
	}
	_, err := h.eng.Command(t.Context(), "r1", rollout.Command{Kind: rollout.CmdRollback, Actor: "fay"})
	if !errors.Is(err, rollout.ErrContract) {
		t.Fatalf("rollback without accepting: %v", err)
	}
	h.command("r1", rollout.Command{Kind: rollout.CmdRollback, Actor: "fay", Reason: "v1 reads the new column", AcceptContract: true})
	h.runUntil("r1", rollout.RolledBack, 10)
	if h.hookRuns != 1 {
		t.Errorf("hooks ran %d times", h.hookRuns)
	}
}

func TestFirstReleaseRollsBackByStopping(t *testing.T) {
	h := newHarness(t)
	h.verdict = func(rollout.State) analysis.Decision { return analysis.Fail }
	cfg := config("r1", rollout.CanaryStrategy)
	cfg.Stable = nil
	h.create(cfg)
	h.runUntil("r1", rollout.RolledBack, 20)
	want(t, "weights", h.weightsApplied(), []string{"api-v2=100", "api-v2=100", ""})
}

// A result arriving after a command moved the rollout is stale and ignored.
func TestCommandDuringActionWins(t *testing.T) {
	h := newHarness(t)
	h.smokeStarted, h.smokeGate = make(chan struct{}), make(chan struct{})
	h.create(config("r1", rollout.CanaryStrategy))
	eng, done := h.eng, make(chan error)
	go func() { done <- eng.Tick(t.Context()) }()
	<-h.smokeStarted
	h.newEngine() // a second engine takes the command, as an API handler would
	h.command("r1", rollout.Command{Kind: rollout.CmdPause, Actor: "gus"})
	close(h.smokeGate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := h.get("r1"); s.Phase != rollout.Paused || s.Pause.From != rollout.SmokeTesting {
		t.Fatalf("phase %s", s.Phase)
	}
	want(t, "weights", h.weightsApplied(), []string{"api-v1=100,api-v2=0"})
	h.smokeStarted = nil
	h.command("r1", rollout.Command{Kind: rollout.CmdResume, Actor: "gus"})
	h.runUntil("r1", rollout.Succeeded, 40)
}

// An approval within the wait timer holds the rollout until the timer runs
// out (counted from when it began waiting); a second approval is refused.
func TestApprovalWaitTimer(t *testing.T) {
	h := newHarness(t)
	cfg := config("r1", rollout.AllAtOnce)
	cfg.RequireApproval, cfg.WaitTimer = true, 10*time.Minute
	h.create(cfg)
	for range 3 {
		h.tick()
	}
	h.command("r1", rollout.Command{Kind: rollout.CmdApprove, Actor: "erin", Reason: "change 42"})
	h.clock.advance(5 * time.Minute)
	for range 5 {
		h.tick()
	}
	if s := h.get("r1"); s.Phase != rollout.AwaitingApproval || s.Approval == nil || len(h.target.Applied()) != 0 || !strings.Contains(s.Reason, "the wait timer holds it until") {
		t.Fatalf("within the wait timer: phase %s, approval %+v, applied %v, reason %q", s.Phase, s.Approval, h.weightsApplied(), s.Reason)
	}
	if _, err := h.eng.Command(t.Context(), "r1", rollout.Command{Kind: rollout.CmdApprove, Actor: "fay", Reason: "me too"}); !errors.Is(err, rollout.ErrNotAllowed) {
		t.Errorf("a second approval: %v", err)
	}
	h.clock.advance(5 * time.Minute)
	s := h.runUntil("r1", rollout.Succeeded, 20)
	if s.Approval.Actor != "erin" {
		t.Errorf("approval %+v", s.Approval)
	}
}

// A rollback runs belay.yaml's rollback_action in order: flag changes
// before (or after) traffic returns; a flag change that fails is logged and
// never holds the redeploy back.
func TestRollbackRunsFlagActionsInOrder(t *testing.T) {
	for _, c := range []struct {
		name      string
		steps     []rollout.RollbackStep
		flagErr   error
		change    string
		afterMove bool // the flag changes once traffic is back
	}{
		{"flag first", []rollout.RollbackStep{{Flag: &rollout.FlagChange{Flag: "checkout_v2"}}, {Deploy: true}}, nil, "disable_flag checkout_v2", false},
		{"deploy first", []rollout.RollbackStep{{Deploy: true}, {Flag: &rollout.FlagChange{Flag: "legacy", Enable: true}}}, nil, "enable_flag legacy", true},
		{"failing flag", []rollout.RollbackStep{{Flag: &rollout.FlagChange{Flag: "checkout_v2"}}, {Deploy: true}}, errors.New("store down"), "disable_flag checkout_v2", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.flagErr = c.flagErr
			h.verdict = func(s rollout.State) analysis.Decision {
				if s.Step == 1 {
					return analysis.Fail
				}
				return analysis.Pass
			}
			cfg := config("r1", rollout.CanaryStrategy)
			cfg.RollbackSteps = c.steps
			h.create(cfg)
			h.runUntil("r1", rollout.RolledBack, 30)
			back := -1 // the apply that returned all traffic to api-v1
			for i, d := range h.target.Applied() {
				if len(d.Versions) > 0 && d.Versions[0].Version == "api-v1" && d.Versions[0].Weight == 100 && back < 0 && i > 0 {
					back = i
				}
			}
			wantN := back
			if c.afterMove {
				wantN = back + 1
			}
			want(t, "flag changes", h.flags, []string{fmt.Sprintf("%s after %d applies", c.change, wantN)})
			if w := h.target.Weights("production", "api"); w["api-v1"] != 100 {
				t.Errorf("weights after the rollback: %v", w)
			}
		})
	}
}
