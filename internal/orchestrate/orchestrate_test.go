package orchestrate

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/target"
)

func TestReleaseWalksEveryEnvironmentWithAWatch(t *testing.T) {
	h := newHarness(t, "")
	ans := h.release("api-v1")
	if ans.Env != "staging" {
		t.Fatalf("entered %s", ans.Env)
	}
	v := h.settled(ans.Release)
	if v.Outcome != api.OutcomeSucceeded || len(v.Rollouts) != 2 || h.stable("staging") != "api-v1" || h.stable("production") != "api-v1" {
		t.Fatalf("release %+v; stable %q %q", v, h.stable("staging"), h.stable("production"))
	}
	// The second release watches production for 2 minutes at 100 %, with
	// v1 kept started at weight 0, before v2 becomes stable there.
	ans = h.release("api-v2")
	h.until("production watching", 100, func() bool {
		rows, _ := h.st.ListRollouts(h.ctx, store.RolloutFilter{Active: true, Environment: "production"})
		return len(rows) == 1 && rows[0].Phase == string(rollout.Watching)
	})
	h.tick()
	if w := h.weights("production"); w != "api-v1=0,api-v2=100" {
		t.Fatalf("watch weights %s", w)
	}
	st, _ := h.o.Status(h.ctx, "api")
	if r := st[0].Environments[1].Rollout; r == nil || r.WatchLeft == "" || h.stable("production") != "api-v1" {
		t.Fatalf("status during the watch: %+v, stable %s", r, h.stable("production"))
	}
	v = h.settled(ans.Release)
	if v.Outcome != api.OutcomeSucceeded || h.stable("production") != "api-v2" || h.weights("production") != "api-v2=100" {
		t.Fatalf("after the watch: %+v stable %s weights %s", v.Outcome, h.stable("production"), h.weights("production"))
	}
	// Each event is stored once, with its transition.
	evs, _ := h.st.EventsSince(h.ctx, 0, 1000)
	ids := map[string]bool{}
	promoted := 0
	for _, e := range evs {
		var ev event.Event
		_ = json.Unmarshal(e.Data, &ev)
		if ids[ev.ID] {
			t.Fatalf("event %s stored twice", ev.ID)
		}
		ids[ev.ID] = true
		if ev.Event == event.DeploymentPromoted {
			promoted++
		}
	}
	if promoted != 4 {
		t.Fatalf("%d deployment_promoted events, want 4", promoted)
	}
}

func TestTriggerDuringWatchRollsBackAndRejects(t *testing.T) {
	h := newHarness(t, "")
	h.settled(h.release("api-v1").Release)
	ans := h.release("api-v2")
	h.judge(func(s rollout.State) analysis.Decision {
		if s.Phase == rollout.Watching {
			return analysis.Fail
		}
		return analysis.Pass
	})
	v := h.settled(ans.Release)
	if v.Outcome != api.OutcomeRolledBack || h.stable("production") != "api-v1" || h.weights("production") != "api-v1=100" {
		t.Fatalf("%s (%s); stable %s, weights %s", v.Outcome, v.Reason, h.stable("production"), h.weights("production"))
	}
	rej, _ := h.st.Rejections(h.ctx, "api", "api-v2")
	if len(rej) != 1 || rej[0].Environment != "production" {
		t.Fatalf("rejections %+v", rej)
	}
	// staging keeps v2 (on_rejected_downstream: keep), but the next release
	// there names v1 as its previous stable, never the rejected v2.
	h.judge(func(rollout.State) analysis.Decision { return analysis.Pass })
	if h.stable("staging") != "api-v2" {
		t.Fatalf("staging %s", h.stable("staging"))
	}
	st, _ := h.o.Status(h.ctx, "api")
	// status says where and when v2 was rolled back, and what staging would
	// return to.
	if e := st[0].Environments[0]; !e.Rejected || e.OnRejected != "keep" || e.RejectedIn != "production" ||
		e.RejectedAt == nil || !e.RejectedAt.Equal(rej[0].At) || e.RejectedRollout != rej[0].RolloutID || e.RollbackTo != "api-v1" {
		t.Fatalf("staging status %+v", e)
	}
	if e := st[0].Environments[1]; e.Rejected || e.RejectedIn != "" || e.RejectedAt != nil || e.RollbackTo != "" {
		t.Fatalf("production status %+v", e)
	}
	ans = h.release("api-v3")
	if got := ans.Plan.PreviousStable["staging"]; got != "api-v1" {
		t.Fatalf("staging previous_stable %q, want api-v1; notes %v", got, ans.Plan.Notes)
	}
}

func TestOnRejectedDownstreamRollsBackEarlierEnvironments(t *testing.T) {
	h := newHarness(t, "    on_rejected_downstream: rollback\n")
	h.settled(h.release("api-v1").Release)
	ans := h.release("api-v2")
	h.judge(func(s rollout.State) analysis.Decision {
		if s.Environment == "production" && s.Step == 0 {
			return analysis.Fail
		}
		return analysis.Pass
	})
	h.settled(ans.Release)
	h.until("staging rolled back to v1", 100, func() bool { return h.stable("staging") == "api-v1" && h.weights("staging") == "api-v1=100" })
	audit, _ := h.st.AuditSince(h.ctx, 0, 100)
	if last := audit[len(audit)-1]; last.Action != "rollback.rejected_downstream" || last.Actor != "belay" {
		t.Fatalf("audit %+v", last)
	}
}

func TestReleaseQueuedBehindBusyEnvironment(t *testing.T) {
	h := newHarness(t, "")
	h.settled(h.release("api-v1").Release)
	// v2 sits in production's canary (inconclusive forever would pause it;
	// Continue keeps it there).
	h.judge(func(s rollout.State) analysis.Decision {
		if s.New.Version == "api-v2" && s.Environment == "production" {
			return analysis.Continue
		}
		return analysis.Pass
	})
	a2 := h.release("api-v2")
	h.until("v2 in production's canary", 60, func() bool {
		v := h.releaseView(a2.Release)
		return len(v.Rollouts) == 2 && v.Rollouts[1].Phase == string(rollout.Canary)
	})
	a3, err := h.o.Release(h.ctx, api.ReleaseRequest{Service: "api", Version: "api-v3", Owner: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	h.until("v3 queued for production", 60, func() bool {
		return h.releaseView(a3.Release).Outcome == api.OutcomeWaiting && len(h.releaseView(a3.Release).Queue) == 1
	})
	q := h.releaseView(a3.Release).Queue[0]
	if q.Environment != "production" || !strings.Contains(q.Reason, "waiting for rollout") {
		t.Fatalf("queue %+v", q)
	}
	for range 5 {
		h.tick()
	}
	if v := h.releaseView(a3.Release); v.Outcome != api.OutcomeWaiting {
		t.Fatalf("v3 started while production was busy: %+v", v)
	}
	h.judge(func(rollout.State) analysis.Decision { return analysis.Pass })
	if v := h.settled(a3.Release); v.Outcome != api.OutcomeSucceeded || h.stable("production") != "api-v3" {
		t.Fatalf("v3 %s: %s; production %s", v.Outcome, v.Reason, h.stable("production"))
	}
}

func TestQueueCancelAndSupersede(t *testing.T) {
	h := newHarness(t, "")
	h.settled(h.release("api-v1").Release)
	h.judge(func(s rollout.State) analysis.Decision {
		if s.Environment == "production" {
			return analysis.Continue
		}
		return analysis.Pass
	})
	a2 := h.release("api-v2")
	h.until("v2 in production", 60, func() bool { return len(h.releaseView(a2.Release).Rollouts) == 2 })
	a3 := h.release("api-v3")
	h.until("v3 queued", 60, func() bool { return h.releaseView(a3.Release).Outcome == api.OutcomeWaiting })
	a4, err := h.o.Release(h.ctx, api.ReleaseRequest{Service: "api", Version: "api-v4", Owner: "bob", Supersede: true})
	if err != nil {
		t.Fatal(err)
	}
	h.until("v4 queued", 60, func() bool { return h.releaseView(a4.Release).Outcome == api.OutcomeWaiting })
	if v := h.releaseView(a3.Release); v.Outcome != api.OutcomeCancelled || !strings.Contains(v.Reason, "superseded") {
		t.Fatalf("v3 not superseded: %s %s", v.Outcome, v.Reason)
	}
	q := h.releaseView(a4.Release).Queue[0]
	if _, err := h.o.CancelQueued(h.ctx, q.ID, "", ""); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("cancel without actor: %v", err)
	}
	// the answer is the entry as `belay queue` shows it, release and version included
	if c, err := h.o.CancelQueued(h.ctx, q.ID, "ann", "wrong build"); err != nil || c.Release != a4.Release || c.Version != "api-v4" ||
		c.Environment != "production" || c.State != store.QueueCancelled || c.Reason != "cancel by ann: wrong build" {
		t.Fatalf("cancelled %+v, %v", c, err)
	}
	if v := h.releaseView(a4.Release); v.Outcome != api.OutcomeCancelled || !v.Done {
		t.Fatalf("v4 %+v", v)
	}
}

func TestRollbackToNeedsForceForRejectedVersions(t *testing.T) {
	h := newHarness(t, "")
	h.settled(h.release("api-v1").Release)
	h.settled(h.release("api-v2").Release)
	a3 := h.release("api-v3")
	h.judge(func(s rollout.State) analysis.Decision {
		if s.New.Version == "api-v3" && s.Environment == "production" {
			return analysis.Fail
		}
		return analysis.Pass
	})
	h.settled(a3.Release)
	req := api.RollbackRequest{Service: "api", CommandRequest: api.CommandRequest{Actor: "ann", Reason: "night", Env: "production", To: "api-v3"}}
	if _, err := h.o.Rollback(h.ctx, req); !errors.Is(err, ErrForce) || !strings.Contains(err.Error(), "api-v3 was rolled back in production") {
		t.Fatalf("rollback to a rejected version: %v", err)
	}
	req.To = "api-v4"
	if _, err := h.o.Rollback(h.ctx, req); !errors.Is(err, ErrForce) || !strings.Contains(err.Error(), "never stable in production") {
		t.Fatalf("rollback to a version never stable: %v", err)
	}
	// A version that was stable here goes without force, as a rollout.
	req.To = "api-v1"
	ans, err := h.o.Rollback(h.ctx, req)
	if err != nil || ans.From != "api-v2" || ans.Rollout == 0 {
		t.Fatalf("%+v %v", ans, err)
	}
	h.until("rolled back", 20, func() bool { return h.stable("production") == "api-v1" && h.weights("production") == "api-v1=100" })
	if rej, _ := h.st.Rejections(h.ctx, "api", "api-v2"); len(rej) != 1 {
		t.Fatalf("the version rolled back from is not rejected: %+v", rej)
	}
	// Forced, it is named in the answer and the audit entry.
	req.To, req.Force = "api-v3", true
	ans, err = h.o.Rollback(h.ctx, req)
	if err != nil || !strings.Contains(ans.Forced, "rolled back in production") {
		t.Fatalf("%+v %v", ans, err)
	}
	audit, _ := h.st.AuditSince(h.ctx, 0, 100)
	if last := audit[len(audit)-1]; last.Action != "override.rollback.forced" || !strings.Contains(last.Reason, "forced: api-v3 was rolled back") {
		t.Fatalf("audit %+v", last)
	}
}

func TestFirstReleaseThatCannotStartEndsFree(t *testing.T) {
	h := newHarness(t, "")
	h.target.Fail("api-v1", target.ErrUnhealthy)
	a1 := h.release("api-v1")
	v := h.settled(a1.Release)
	if v.Outcome != api.OutcomeRolledBack || h.weights("staging") != "" {
		t.Fatalf("%s: %s; staging %q", v.Outcome, v.Reason, h.weights("staging"))
	}
	h.target.Fail("api-v1", nil)
	if v := h.settled(h.release("api-v2").Release); v.Outcome != api.OutcomeSucceeded {
		t.Fatalf("a fixed release after a failed first one: %s %s", v.Outcome, v.Reason)
	}
}
