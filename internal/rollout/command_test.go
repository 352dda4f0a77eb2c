package rollout

import (
	"errors"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/target"
)

func TestValidate(t *testing.T) {
	pending, _ := New(testConfig(), t0)
	canary := canaryAt(t, testConfig())
	paused, _ := Next(canary, Observation{Kind: Manual, Command: &Command{Kind: CmdPause, Actor: "a"}}, t0)
	done := canary
	done.Phase = Succeeded
	c := testConfig()
	c.Hooks, c.MigrationType = true, ContractMigration
	contract := canaryAt(t, c)
	v2 := target.Version{Version: "api-v2"}
	for _, tc := range []struct {
		name string
		s    State
		c    Command
		want error
	}{
		{"no actor", canary, Command{Kind: CmdPause}, ErrNotAllowed},
		{"pause", canary, Command{Kind: CmdPause, Actor: "a"}, nil},
		{"pause twice", paused, Command{Kind: CmdPause, Actor: "a"}, ErrNotAllowed},
		{"resume running", canary, Command{Kind: CmdResume, Actor: "a"}, ErrNotAllowed},
		{"resume", paused, Command{Kind: CmdResume, Actor: "a"}, nil},
		{"promote paused canary", paused, Command{Kind: CmdPromote, Actor: "a"}, nil},
		{"promote undeployed", pending, Command{Kind: CmdPromote, Actor: "a"}, ErrNotAllowed},
		{"approve unasked", canary, Command{Kind: CmdApprove, Actor: "a"}, ErrNotAllowed},
		{"ended", done, Command{Kind: CmdAbort, Actor: "a"}, ErrNotAllowed},
		{"rollback to itself", canary, Command{Kind: CmdRollback, Actor: "a", To: &v2}, ErrNotAllowed},
		{"unknown", canary, Command{Kind: "explode", Actor: "a"}, ErrNotAllowed},
		{"contract rollback", contract, Command{Kind: CmdRollback, Actor: "a"}, ErrContract},
		{"contract abort", contract, Command{Kind: CmdAbort, Actor: "a"}, ErrContract},
		{"contract accepted", contract, Command{Kind: CmdRollback, Actor: "a", AcceptContract: true}, nil},
	} {
		err := Validate(tc.s, tc.c)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if tc.want != nil {
			if next, acts := Next(tc.s, Observation{Kind: Manual, Command: &tc.c}, t0); next.Seq != tc.s.Seq || acts != nil {
				t.Errorf("%s: a refused command moved the rollout", tc.name)
			}
		}
	}
}

func TestAbortBeforeDeployFailsWithoutTouchingTraffic(t *testing.T) {
	s, _ := New(testConfig(), t0)
	next, acts := Next(s, Observation{Kind: Manual, Command: &Command{Kind: CmdAbort, Actor: "a", Reason: "wrong"}}, t0)
	if next.Phase != Failed {
		t.Fatal(next.Phase)
	}
	for _, a := range acts {
		if a.Kind != Emit || a.Event.Actor != "a" {
			t.Errorf("action %+v", a)
		}
	}
}

func TestResumeRestartsTheStepClock(t *testing.T) {
	s := canaryAt(t, testConfig())
	s, _ = Next(s, Observation{Kind: Manual, Command: &Command{Kind: CmdPause, Actor: "a"}}, t0)
	s, acts := Next(s, Observation{Kind: Manual, Command: &Command{Kind: CmdResume, Actor: "a"}}, t0)
	if s.Phase != Canary || !s.StepStarted.IsZero() || acts[len(acts)-1].Kind != SetWeights {
		t.Fatalf("%s %v %v", s.Phase, s.StepStarted, acts)
	}
	// Until the weights are re-applied, no verdict counts.
	if next, _ := Next(s, verdict(s, analysis.Pass), t0.Add(time.Hour)); next.Step != 0 {
		t.Fatal("advanced on a verdict before weights were in force")
	}
}
