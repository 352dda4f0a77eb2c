package orchestrate

import (
	"fmt"
	"testing"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
)

// History without an environment lists every environment's rollouts,
// newest first; with one, only that environment's.
func TestHistoryOfEveryEnvironment(t *testing.T) {
	h := newHarness(t, "")
	h.settled(h.release("api-v1").Release)
	all, err := h.o.History(h.ctx, "api", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range all {
		got = append(got, fmt.Sprintf("%d %s", r.ID, r.Environment))
	}
	if fmt.Sprint(got) != "[2 production 1 staging]" {
		t.Fatalf("history of every environment: %v", got)
	}
	prod, err := h.o.History(h.ctx, "api", "production")
	if err != nil || len(prod) != 1 || prod[0].Environment != "production" {
		t.Fatalf("history of production: %+v, %v", prod, err)
	}
}

// A first release rolled back in production leaves staging running it with
// nothing earlier to return to: status says where it was rolled back and
// names no rollback target.
func TestStatusOfAFirstReleaseRejectedLater(t *testing.T) {
	h := newHarness(t, "")
	h.judge(func(s rollout.State) analysis.Decision {
		if s.Environment == "production" {
			return analysis.Fail
		}
		return analysis.Pass
	})
	h.settled(h.release("api-v1").Release)
	st, err := h.o.Status(h.ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	e := st[0].Environments[0]
	if e.Stable != "api-v1" || !e.Rejected || e.RejectedIn != "production" || e.RejectedAt == nil || e.RejectedRollout != 2 || e.RollbackTo != "" {
		t.Fatalf("staging status %+v", e)
	}
}
