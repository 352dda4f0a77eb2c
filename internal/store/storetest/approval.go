package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

func testApproval(t *testing.T, s store.Store) {
	rel := release(t, s, "api", "api-2026.05.12-8f3a91c")
	if got := must(s.Approvals(ctx(t), rel.ID, "production")); len(got) != 0 {
		t.Fatalf("approvals of a new release: %v", got)
	}
	bob := store.Approval{ReleaseID: rel.ID, Environment: "production", Actor: "bob", Reason: "CAB-42", At: at}
	carol := store.Approval{ReleaseID: rel.ID, Environment: "production", Actor: "carol", At: at.Add(time.Minute)}
	ok(t, s.Approve(ctx(t), bob))
	ok(t, s.Approve(ctx(t), carol))
	ok(t, s.Approve(ctx(t), bob)) // again: no-op, no second audit entry
	ok(t, s.Approve(ctx(t), store.Approval{ReleaseID: rel.ID, Environment: "staging", Actor: "bob", At: at}))

	bob.At, carol.At = norm(bob.At), norm(carol.At)
	if got := must(s.Approvals(ctx(t), rel.ID, "production")); !reflect.DeepEqual(got, []store.Approval{bob, carol}) {
		t.Errorf("Approvals = %+v, want bob then carol", got)
	}
	audit := must(s.AuditSince(ctx(t), 0, 10))
	if len(audit) != 3 || audit[0].Actor != "bob" || audit[0].Action != "approve" || audit[0].Reason != "CAB-42" ||
		audit[0].Subject != "release/"+itoa(rel.ID)+"/production" {
		t.Errorf("audit = %+v, want one entry per distinct approval", audit)
	}
	wantErr(t, s.Approve(ctx(t), store.Approval{ReleaseID: rel.ID + 100, Environment: "production", Actor: "bob"}),
		store.ErrNotFound, "release")
	wantErr(t, s.Approve(ctx(t), store.Approval{ReleaseID: rel.ID, Environment: "production"}), store.ErrInvalid, "actor")
}
