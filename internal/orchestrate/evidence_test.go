package orchestrate

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/store"
)

// A release carries its commit's latest belay ci run of each stage and is
// judged by it: a blocked stage keeps it out, a newer passing run lets it
// in; block_promotion failures keep it out of production only.
func TestReleaseIsJudgedByItsCommitsCIEvidence(t *testing.T) {
	h := newHarness(t, "")
	for v, commit := range map[string]string{"api-v1": "c1", "api-v2": "c2", "api-v3": "c3"} {
		if err := h.st.RecordArtifact(h.ctx, store.Artifact{Digest: "sha256:" + v, Version: v, Service: "api", Commit: commit, BuiltAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	run := func(commit, stage, status string) {
		t.Helper()
		if _, err := h.st.RecordCIRun(h.ctx, store.CIRun{Commit: commit, Stage: stage, Status: status, Evidence: json.RawMessage(`{}`), CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	h.settled(h.release("api-v1").Release) // no evidence: let through

	run("c2", "pull_request", store.CIPassed)
	run("c2", "main_branch", store.CIBlocked)
	_, err := h.o.Release(h.ctx, api.ReleaseRequest{Service: "api", Version: "api-v2", Owner: "ann"})
	if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "api-v2: the main_branch checks of its commit c2 blocked (belay ci run 2") {
		t.Fatalf("blocked evidence: %v", err)
	}
	run("c2", "main_branch", store.CIPassed) // fixed and run again
	ans := h.release("api-v2")
	if len(ans.Plan.CI) != 2 || ans.Plan.CI[1].Stage != "main_branch" || ans.Plan.CI[1].Status != store.CIPassed || ans.Plan.CI[1].Run != 3 {
		t.Errorf("plan's ci evidence %+v", ans.Plan.CI)
	}
	if !strings.Contains(strings.Join(ans.Plan.Notes, "\n"), "ci: pull_request passed (run 1), main_branch passed (run 3)") {
		t.Errorf("notes %q", ans.Plan.Notes)
	}
	h.settled(ans.Release)

	run("c3", "main_branch", store.CIPromotionBlocked)
	ans = h.release("api-v3") // staging takes it
	v := h.settled(ans.Release)
	if h.stable("staging") != "api-v3" || h.stable("production") != "api-v2" || !strings.Contains(v.Reason, "block_promotion steps of its main_branch checks failed") {
		t.Errorf("staging %s, production %s; release %s (%s)", h.stable("staging"), h.stable("production"), v.Outcome, v.Reason)
	}
}
