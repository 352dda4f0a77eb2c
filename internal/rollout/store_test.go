package rollout

import (
	"testing"
)

func TestRecordOverride(t *testing.T) {
	s := canaryAt(t, testConfig())
	obs := Observation{Kind: Manual, Command: &Command{Kind: CmdPause, Actor: "alice", Reason: "why"}}
	next, acts := Next(s, obs, t0)
	next, tr := Record(s, next, obs, t0)
	if tr.From != Canary || tr.To != Paused || !tr.Override || tr.Actor != "alice" || tr.Command != CmdPause ||
		tr.Seq != s.Seq+1 || tr.Rollout != "r1" || len(tr.Actions) != 0 {
		t.Fatalf("%+v", tr)
	}
	// The event is part of the transition, not an action left to run.
	if len(acts) != 1 || acts[0].Kind != Emit || len(tr.Events) != 1 || tr.Events[0].Event != "deployment_paused" || len(next.Pending) != 0 {
		t.Fatalf("events %+v, pending %+v", tr.Events, next.Pending)
	}
}
