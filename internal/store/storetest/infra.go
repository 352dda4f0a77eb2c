package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// testInfraResources: a resource row reads back as written, a second put
// replaces it (create-pending cleared, applied spec recorded), rows are per
// environment, delete removes one, a bad policy is refused.
func testInfraResources(t *testing.T, s store.Store) {
	r := store.InfraResource{Environment: "staging", Kind: "postgres_database", Name: "api_staging",
		Desired: json.RawMessage(`{"connection_limit":"20","owner":"api_staging_owner"}`), CreatePending: true,
		Protect: true, Policy: store.PolicyManage, UpdatedAt: at}
	ok(t, s.PutInfraResource(ctx(t), r))
	ok(t, s.PutInfraResource(ctx(t), store.InfraResource{Environment: "production", Kind: "postgres_role", Name: "api_production_app",
		Policy: store.PolicyObserve, UpdatedAt: at}))
	got := must(s.InfraResources(ctx(t), "staging"))
	if len(got) != 1 || !got[0].CreatePending || !got[0].Protect || string(got[0].Desired) != string(r.Desired) ||
		got[0].Applied != nil || !got[0].ObservedAt.IsZero() || !got[0].UpdatedAt.Equal(norm(at)) {
		t.Fatalf("staging resources = %+v, want the pending database", got)
	}
	r.CreatePending, r.Applied, r.AppliedHash = false, r.Desired, "abc"
	r.Observed, r.ObservedAt, r.DriftHash = json.RawMessage(`{"connection_limit":"5"}`), at.Add(time.Minute), "d1"
	r.Drift, r.DriftAck = json.RawMessage(`[{"field":"connection_limit"}]`), "d1"
	ok(t, s.PutInfraResource(ctx(t), r))
	got = must(s.InfraResources(ctx(t), "staging"))
	if len(got) != 1 || got[0].CreatePending || string(got[0].Applied) != string(r.Desired) || got[0].AppliedHash != "abc" ||
		string(got[0].Observed) != `{"connection_limit":"5"}` || !got[0].ObservedAt.Equal(norm(at.Add(time.Minute))) || got[0].DriftHash != "d1" ||
		string(got[0].Drift) != `[{"field":"connection_limit"}]` || got[0].DriftAck != "d1" {
		t.Fatalf("after the second put = %+v", got)
	}
	if p := must(s.InfraResources(ctx(t), "production")); len(p) != 1 || p[0].Policy != store.PolicyObserve {
		t.Fatalf("production resources = %+v", p)
	}
	ok(t, s.DeleteInfraResource(ctx(t), "staging", "postgres_database", "api_staging"))
	if got = must(s.InfraResources(ctx(t), "staging")); len(got) != 0 {
		t.Fatalf("after delete = %+v", got)
	}
	r.Policy = "sometimes"
	if err := s.PutInfraResource(ctx(t), r); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad policy: %v, want ErrInvalid", err)
	}
}

// testInfraPlans: a plan is stored pending with its audit entry, approved
// once (again is a no-op, audited once), applied once; an applied plan is
// neither approved nor applied again; a pending plan is not applied.
func testInfraPlans(t *testing.T, s store.Store) {
	audit := func(action string) store.AuditEntry {
		return store.AuditEntry{At: at, Actor: "alice", Action: action, Subject: "plan/?"}
	}
	p := must(s.CreateInfraPlan(ctx(t), store.InfraPlan{Environment: "staging", Hash: "h1", Body: json.RawMessage(`{"changes":[]}`),
		CreatedBy: "alice", CreatedAt: at}, audit("infra.plan")))
	if p.ID == 0 || p.State != store.PlanPending {
		t.Fatalf("created plan = %+v", p)
	}
	if err := s.MarkInfraPlanApplied(ctx(t), p.ID, at, audit("infra.apply")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("applying a pending plan: %v, want ErrConflict", err)
	}
	a := must(s.ApproveInfraPlan(ctx(t), p.ID, "bob", 1, at.Add(time.Minute), audit("infra.plan.approve")))
	if a.State != store.PlanApproved || a.ApprovedBy != "bob" || !a.ApprovedAt.Equal(norm(at.Add(time.Minute))) {
		t.Fatalf("approved = %+v", a)
	}
	must(s.ApproveInfraPlan(ctx(t), p.ID, "carol", 1, at.Add(2*time.Minute), audit("infra.plan.approve")))
	ok(t, s.MarkInfraPlanApplied(ctx(t), p.ID, at.Add(3*time.Minute), audit("infra.apply")))
	g := must(s.GetInfraPlan(ctx(t), p.ID))
	if g.State != store.PlanApplied || g.ApprovedBy != "bob" || string(g.Body) != `{"changes":[]}` || g.Hash != "h1" ||
		!g.AppliedAt.Equal(norm(at.Add(3*time.Minute))) || !g.CreatedAt.Equal(norm(at)) {
		t.Fatalf("applied plan = %+v", g)
	}
	if _, err := s.ApproveInfraPlan(ctx(t), p.ID, "bob", 1, at, audit("infra.plan.approve")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("approving an applied plan: %v, want ErrConflict", err)
	}
	if err := s.MarkInfraPlanApplied(ctx(t), p.ID, at, audit("infra.apply")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("applying twice: %v, want ErrConflict", err)
	}
	if _, err := s.GetInfraPlan(ctx(t), 9999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown plan: %v, want ErrNotFound", err)
	}
	// two approvals needed: the first leaves it pending, the same approver
	// again counts once, a second approver approves it
	p2 := must(s.CreateInfraPlan(ctx(t), store.InfraPlan{Environment: "production", Hash: "h2", Body: json.RawMessage(`{"changes":[]}`),
		CreatedBy: "alice", CreatedAt: at}, audit("infra.plan")))
	if a := must(s.ApproveInfraPlan(ctx(t), p2.ID, "bob", 2, at, audit("infra.plan.approve"))); a.State != store.PlanPending || len(a.Approvals) != 1 {
		t.Fatalf("one of two approvals = %+v, want pending with bob's approval", a)
	}
	if a := must(s.ApproveInfraPlan(ctx(t), p2.ID, "bob", 2, at, audit("infra.plan.approve"))); a.State != store.PlanPending || len(a.Approvals) != 1 {
		t.Fatalf("bob twice = %+v, want one approval", a)
	}
	if a := must(s.ApproveInfraPlan(ctx(t), p2.ID, "carol", 2, at, audit("infra.plan.approve"))); a.State != store.PlanApproved || a.ApprovedBy != "bob, carol" {
		t.Fatalf("two approvals = %+v, want approved by bob, carol", a)
	}
	if g := must(s.GetInfraPlan(ctx(t), p2.ID)); g.State != store.PlanApproved || len(g.Approvals) != 2 {
		t.Fatalf("stored = %+v", g)
	}
	entries := must(s.AuditSince(ctx(t), 0, 100))
	entries = entries[:3]
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action+" "+e.Subject)
	}
	want := []string{"infra.plan plan/1", "infra.plan.approve plan/?", "infra.apply plan/?"}
	if len(actions) != len(want) || actions[0] != fmt.Sprintf("infra.plan plan/%d", p.ID) {
		t.Fatalf("audit = %q, want %q (with the plan's ID)", actions, want)
	}
}
