package storetest

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/belay-dev/belay/internal/store"
)

// testCIRuns: runs read back by commit, oldest first, evidence as written;
// a run with an unknown status or no commit is refused.
func testCIRuns(t *testing.T, s store.Store) {
	a := must(s.RecordCIRun(ctx(t), store.CIRun{Commit: "abc123", Stage: "pull_request", Status: store.CIPassed,
		Evidence: json.RawMessage(`{"steps": [{"name": "lint", "status": "passed"}]}`), CreatedAt: at}))
	must(s.RecordCIRun(ctx(t), store.CIRun{Commit: "def456", Stage: "pull_request", Status: store.CIBlocked, Evidence: json.RawMessage(`{}`), CreatedAt: at}))
	b := must(s.RecordCIRun(ctx(t), store.CIRun{Commit: "abc123", Stage: "main_branch", Status: store.CIPromotionBlocked,
		Evidence: json.RawMessage(`{}`), CreatedAt: at.Add(1)}))
	got := must(s.CIRunsOf(ctx(t), "abc123"))
	if len(got) != 2 || got[0].ID != a.ID || got[1].ID != b.ID || got[1].Status != store.CIPromotionBlocked || got[0].Stage != "pull_request" {
		t.Fatalf("CIRunsOf = %+v", got)
	}
	var ev map[string]any
	if err := json.Unmarshal(got[0].Evidence, &ev); err != nil || ev["steps"] == nil {
		t.Errorf("evidence %s: %v", got[0].Evidence, err)
	}
	if got := must(s.CIRunsOf(ctx(t), "none")); len(got) != 0 {
		t.Errorf("runs of an unknown commit: %+v", got)
	}
	for _, bad := range []store.CIRun{{Commit: "x", Stage: "s", Status: "green", Evidence: json.RawMessage(`{}`)}, {Stage: "s", Status: store.CIPassed, Evidence: json.RawMessage(`{}`)}} {
		if _, err := s.RecordCIRun(ctx(t), bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("RecordCIRun(%+v) = %v; want ErrInvalid", bad, err)
		}
	}
}
