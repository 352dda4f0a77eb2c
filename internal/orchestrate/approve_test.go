package orchestrate

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/store"
)

// protect rewrites belay.yaml with a protection block on production.
func (h *harness) protect(block string) {
	h.t.Helper()
	b, err := os.ReadFile(h.file)
	if err != nil {
		h.t.Fatal(err)
	}
	s := strings.Replace(string(b), "  - name: production\n    listen: 127.0.0.1:18082\n", "  - name: production\n    listen: 127.0.0.1:18082\n    protection:\n"+block, 1)
	if err := os.WriteFile(h.file, []byte(s), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) awaiting(rel int64) string {
	h.t.Helper()
	var id string
	h.until("production awaits approval", 50, func() bool {
		rows, _ := h.st.ListRollouts(h.ctx, store.RolloutFilter{Active: true, Environment: "production", Release: rel})
		if len(rows) == 1 && rows[0].Phase == string(rollout.AwaitingApproval) {
			id = strconv.FormatInt(rows[0].ID, 10)
			return true
		}
		return false
	})
	return id
}

// Production's protection, enforced: the one who asked for a release may
// not approve it, only listed approvers count, two distinct approvals are
// needed, and the wait timer holds the approved release.
func TestApprovalRules(t *testing.T) {
	h := newHarness(t, "")
	h.protect("      require_approval: true\n      approvers: [bob, carol, ann]\n      approvals: 2\n      wait_timer: 2m\n")
	ans, err := h.o.Release(h.ctx, api.ReleaseRequest{Service: "api", Version: "api-v1", Actor: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	h.awaiting(ans.Release)
	approve := func(who string) (rollout.State, error) {
		return h.o.Approve(h.ctx, ans.Release, "production", who, "looks good")
	}
	if _, err := approve("ann"); !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "ann asked for release 1 and may not approve it too") {
		t.Fatalf("self-approval: %v", err)
	}
	if _, err := approve("dave"); !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "dave is not one of production's approvers (bob, carol, ann)") {
		t.Fatalf("unlisted approver: %v", err)
	}
	st, err := approve("bob")
	if err != nil || st.Phase != rollout.AwaitingApproval || !strings.Contains(st.Reason, "1 of 2 approvals (bob); waiting for 1 more") {
		t.Fatalf("first approval: %s %q %v", st.Phase, st.Reason, err)
	}
	if st, err = approve("bob"); err != nil || st.Phase != rollout.AwaitingApproval {
		t.Fatalf("the same approver twice counts once: %s %v", st.Phase, err)
	}
	if st, err = approve("carol"); err != nil || st.Approval == nil || st.Approval.Actor != "carol" {
		t.Fatalf("second approval: %+v %v", st, err)
	}
	// Approved, but the wait timer (2 min from when it began waiting) holds it.
	for range 6 {
		h.tick()
	}
	if v := h.releaseView(ans.Release); v.Rollouts[len(v.Rollouts)-1].Phase != string(rollout.AwaitingApproval) {
		t.Fatalf("the wait timer did not hold it: %s", v.Rollouts[len(v.Rollouts)-1].Phase)
	}
	h.mu.Lock()
	h.now = h.now.Add(2 * time.Minute)
	h.mu.Unlock()
	if v := h.settled(ans.Release); v.Outcome != api.OutcomeSucceeded {
		t.Fatalf("after the wait timer: %+v", v.Outcome)
	}
	as, _ := h.st.Approvals(h.ctx, ans.Release, "production")
	if len(as) != 2 {
		t.Fatalf("approvals recorded: %+v", as)
	}
}
