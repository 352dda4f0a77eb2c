package storetest

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/belay-dev/belay/internal/store"
)

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// testTransitionStale: a retry after a crash (same expected seq) is refused
// and writes nothing, so no transition is duplicated.
func testTransitionStale(t *testing.T, s store.Store) {
	rel := release(t, s, "api", "api-2026.05.12-8f3a91c")
	r := rollout(t, s, rel, "staging")
	step := store.Step{At: at, Reason: "start", Event: json.RawMessage(`{"event":"deployment_started"}`)}
	must(s.Transition(ctx(t), r.ID, 0, state("Verifying", false), step))
	_, err := s.Transition(ctx(t), r.ID, 0, state("Verifying", false), step)
	wantErr(t, err, store.ErrConflict, "rollout "+itoa(r.ID), "seq 1, not 0", "Verifying")
	_, err = s.Transition(ctx(t), r.ID, 5, state("Deploying", false), step)
	wantErr(t, err, store.ErrConflict, "seq 1, not 5")
	if trs := must(s.Transitions(ctx(t), r.ID)); len(trs) != 1 {
		t.Errorf("%d transitions after refused retries, want 1", len(trs))
	}
	if evs := must(s.EventsSince(ctx(t), 0, 10)); len(evs) != 1 {
		t.Errorf("%d events after refused retries, want 1", len(evs))
	}
}

// testTransitionAtomic: a step's audit entry, stable version and event are
// written with it.
func testTransitionAtomic(t *testing.T, s store.Store) {
	rel := release(t, s, "api", "api-2026.05.12-8f3a91c")
	r := rollout(t, s, rel, "production")
	step := store.Step{At: at, Reason: "operator promoted",
		Audit: &store.AuditEntry{At: at, Actor: "bob", Action: "override.promote",
			Subject: "rollout/" + itoa(r.ID), Reason: "canary looks fine", Detail: json.RawMessage(`{"skip":"analysis"}`)},
		Stable: &store.StableVersion{Service: "api", Environment: "production", Version: rel.Version, Digest: "sha256:0a1b", At: at},
		Event:  json.RawMessage(`{"event": "deployment_promoted"}`),
	}
	r = must(s.Transition(ctx(t), r.ID, 0, state("Succeeded", true), step))
	if !r.Terminal || r.Seq != 1 {
		t.Errorf("rollout after promotion: %+v", r)
	}
	audit := must(s.AuditSince(ctx(t), 0, 10))
	if len(audit) != 1 || audit[0].Actor != "bob" || audit[0].Subject != "rollout/"+itoa(r.ID) || audit[0].Reason != "canary looks fine" {
		t.Errorf("audit = %+v", audit)
	}
	st := must(s.Stable(ctx(t), "api", "production"))
	if st.Version != rel.Version || st.RolloutID != r.ID || !st.At.Equal(norm(at)) {
		t.Errorf("stable = %+v, want %s set by rollout %d", st, rel.Version, r.ID)
	}
	evs := must(s.EventsSince(ctx(t), 0, 10))
	if len(evs) != 1 {
		t.Fatalf("events = %+v", evs)
	}
	sameJSON(t, "event", evs[0].Data, step.Event)
}

// testTransitionRollback: when one record of a step is refused, nothing of
// the step is written.
func testTransitionRollback(t *testing.T, s store.Store) {
	rel := release(t, s, "api", "api-2026.05.12-8f3a91c")
	r := rollout(t, s, rel, "production")
	bad := []store.Step{
		{At: at, Event: json.RawMessage(`{"event":"x"}`), Audit: &store.AuditEntry{At: at, Action: "override.abort", Subject: "r"}},
		{At: at, Audit: &store.AuditEntry{At: at, Actor: "a", Action: "b", Subject: "c"}, Stable: &store.StableVersion{Service: "api"}},
		{At: at, Audit: &store.AuditEntry{At: at, Actor: "a", Action: "b", Subject: "c"}, Event: json.RawMessage(`{"event":`)},
		{At: at, Evidence: json.RawMessage(`not json`)},
	}
	for i, step := range bad {
		_, err := s.Transition(ctx(t), r.ID, 0, state("RolledBack", true), step)
		if err == nil {
			t.Fatalf("bad step %d accepted", i)
		}
		wantErr(t, err, store.ErrInvalid)
	}
	got := must(s.GetRollout(ctx(t), r.ID))
	if got.Seq != 0 || got.Phase != "Pending" || got.Terminal {
		t.Errorf("rollout changed by refused steps: %+v", got)
	}
	if trs := must(s.Transitions(ctx(t), r.ID)); len(trs) != 0 {
		t.Errorf("transitions written by refused steps: %+v", trs)
	}
	if a := must(s.AuditSince(ctx(t), 0, 10)); len(a) != 0 {
		t.Errorf("audit written by refused steps: %+v", a)
	}
	if e := must(s.EventsSince(ctx(t), 0, 10)); len(e) != 0 {
		t.Errorf("events written by refused steps: %+v", e)
	}
	_, err := s.Stable(ctx(t), "api", "production")
	wantErr(t, err, store.ErrNotFound)
}
