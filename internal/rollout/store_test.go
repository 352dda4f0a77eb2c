package rollout

import (
	"testing"
)

func TestNewTransitionRecordsOverride(t *testing.T) {
	s := canaryAt(t, testConfig())
	obs := Observation{Kind: Manual, Command: &Command{Kind: CmdPause, Actor: "alice", Reason: "why"}}
	next, _ := Next(s, obs, t0)
	tr := NewTransition(s, next, obs, t0)
	if tr.From != Canary || tr.To != Paused || !tr.Override || tr.Actor != "alice" || tr.Command != CmdPause ||
		tr.Seq != s.Seq+1 || tr.Rollout != "r1" || len(tr.Actions) != 1 || tr.Actions[0] != Emit {
		t.Fatalf("%+v", tr)
	}
}
