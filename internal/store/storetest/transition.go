package storetest

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func events(evs ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(evs))
	for i, e := range evs {
		out[i] = json.RawMessage(e)
	}
	return out
}

// testTransitionStale: a retry after a crash (same expected seq) is refused
// and writes nothing, so no transition is duplicated.
func testTransitionStale(t *testing.T, s store.Store) {
	rel := release(t, s, "api", "api-2026.05.12-8f3a91c")
	r := rollout(t, s, rel, "staging")
	step := store.Step{At: at, Reason: "start", Effects: store.Effects{Events: events(`{"event":"deployment_started"}`)}}
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

// testTransitionAtomic: every effect of a step is written with it: audit
// entry, events in order, stable version, rejection and queue entry, the
// last two with their defaults taken from the rollout and the step.
func testTransitionAtomic(t *testing.T, s store.Store) {
	rel := release(t, s, "api", "api-2026.05.12-8f3a91c")
	r := rollout(t, s, rel, "staging")
	later := at.Add(time.Minute)
	step := store.Step{At: later, Reason: "operator promoted", Effects: store.Effects{
		Audit: &store.AuditEntry{At: at, Actor: "bob", Action: "override.promote",
			Subject: "rollout/" + itoa(r.ID), Reason: "canary looks fine", Detail: json.RawMessage(`{"skip":"analysis"}`)},
		Stable:  &store.StableVersion{Service: "api", Environment: "staging", Version: rel.Version, Digest: "sha256:0a1b", At: at},
		Events:  events(`{"event": "deployment_promoted"}`, `{"id": "r/1/1", "event": "stable_set"}`, `{"event": "queued"}`),
		Reject:  &store.Rejection{Version: "api-2026.05.10-1111111", Reason: "replaced"},
		Enqueue: &store.QueueEntry{Environment: "production", Reason: "production is busy"},
	}}
	r = must(s.Transition(ctx(t), r.ID, 0, state("Succeeded", true), step))
	if !r.Terminal || r.Seq != 1 {
		t.Errorf("rollout after promotion: %+v", r)
	}
	audit := must(s.AuditSince(ctx(t), 0, 10))
	if len(audit) != 1 || audit[0].Actor != "bob" || audit[0].Subject != "rollout/"+itoa(r.ID) || audit[0].Reason != "canary looks fine" {
		t.Errorf("audit = %+v", audit)
	}
	st := must(s.Stable(ctx(t), "api", "staging"))
	if st.Version != rel.Version || st.RolloutID != r.ID || !st.At.Equal(norm(at)) {
		t.Errorf("stable = %+v, want %s set by rollout %d", st, rel.Version, r.ID)
	}
	evs := must(s.EventsSince(ctx(t), 0, 10))
	if len(evs) != len(step.Events) {
		t.Fatalf("events = %+v, want %d", evs, len(step.Events))
	}
	for i, e := range evs {
		sameJSON(t, "event "+strconv.Itoa(i), e.Data, step.Events[i])
		if !e.At.Equal(norm(later)) {
			t.Errorf("event %d at %v, want the step's time %v", i, e.At, norm(later))
		}
	}
	want := []store.Rejection{{Service: "api", Version: "api-2026.05.10-1111111", Environment: "staging",
		RolloutID: r.ID, Reason: "replaced", At: norm(later)}}
	if got := must(s.Rejections(ctx(t), "api", "")); !reflect.DeepEqual(got, want) {
		t.Errorf("Rejections = %+v, want %+v", got, want)
	}
	q := must(s.ListQueue(ctx(t), rel.ID, false))
	if len(q) != 1 || q[0].ReleaseID != rel.ID || q[0].Service != "api" || q[0].Environment != "production" ||
		q[0].State != store.QueueWaiting || q[0].Reason != "production is busy" || !q[0].CreatedAt.Equal(norm(later)) {
		t.Errorf("queue = %+v, want release %d waiting for production since the step", q, rel.ID)
	}
}

// testTransitionRollback: when one record of a step is refused, or the
// transition itself is (a stale seq), nothing of the step is written.
func testTransitionRollback(t *testing.T, s store.Store) {
	rel := release(t, s, "api", "api-2026.05.12-8f3a91c")
	r := rollout(t, s, rel, "production")
	audit := &store.AuditEntry{At: at, Actor: "a", Action: "b", Subject: "c"}
	good := store.Effects{Audit: audit, Events: events(`{"id":"e1"}`, `{"event":"e2"}`),
		Stable:  &store.StableVersion{Service: "api", Environment: "production", Version: rel.Version, Digest: "sha256:0a", At: at},
		Reject:  &store.Rejection{Reason: "bad"},
		Enqueue: &store.QueueEntry{Environment: "dr"}}
	with := func(f func(e *store.Effects)) store.Effects {
		e := good
		f(&e)
		return e
	}
	for i, tc := range []struct {
		seq  int64
		step store.Step
		want error
	}{
		{0, store.Step{At: at, Effects: with(func(e *store.Effects) { e.Audit = &store.AuditEntry{At: at, Action: "x", Subject: "r"} })}, store.ErrInvalid},
		{0, store.Step{At: at, Effects: with(func(e *store.Effects) { e.Stable = &store.StableVersion{Service: "api"} })}, store.ErrInvalid},
		{0, store.Step{At: at, Effects: with(func(e *store.Effects) { e.Events = events(`{"id":"e1"}`, `{"event":`) })}, store.ErrInvalid},
		{0, store.Step{At: at, Effects: with(func(e *store.Effects) { e.Events = []json.RawMessage{nil} })}, store.ErrInvalid},
		{0, store.Step{At: at, Effects: with(func(e *store.Effects) { e.Reject = &store.Rejection{RolloutID: r.ID + 100} })}, store.ErrNotFound},
		{0, store.Step{At: at, Effects: with(func(e *store.Effects) { e.Enqueue = &store.QueueEntry{} })}, store.ErrInvalid},
		{0, store.Step{At: at, Effects: with(func(e *store.Effects) { e.Enqueue = &store.QueueEntry{ReleaseID: rel.ID + 100, Environment: "dr"} })}, store.ErrNotFound},
		{0, store.Step{At: at, Evidence: json.RawMessage(`not json`), Effects: good}, store.ErrInvalid},
		{3, store.Step{At: at, Effects: good}, store.ErrConflict}, // stale: every effect valid, none written
	} {
		_, err := s.Transition(ctx(t), r.ID, tc.seq, state("RolledBack", true), tc.step)
		if !errors.Is(err, tc.want) {
			t.Errorf("bad step %d: error %v, want %v", i, err, tc.want)
		}
	}
	got := must(s.GetRollout(ctx(t), r.ID))
	if got.Seq != 0 || got.Phase != "Pending" || got.Terminal {
		t.Errorf("rollout changed by refused steps: %+v", got)
	}
	if trs := must(s.Transitions(ctx(t), r.ID)); len(trs) != 0 {
		t.Errorf("transitions written by refused steps: %+v", trs)
	}
	nothingWritten(t, s, "refused steps")
	_, err := s.Stable(ctx(t), "api", "production")
	wantErr(t, err, store.ErrNotFound)

	// The same effects on a valid step are all written.
	must(s.Transition(ctx(t), r.ID, 0, state("RolledBack", true), store.Step{At: at, Effects: good}))
	if n := len(must(s.EventsSince(ctx(t), 0, 10))); n != 2 {
		t.Errorf("%d events after the valid step, want 2", n)
	}
}

// nothingWritten checks the store holds no audit entry, event, rejection of
// api or queue entry.
func nothingWritten(t *testing.T, s store.Store, after string) {
	t.Helper()
	if a := must(s.AuditSince(ctx(t), 0, 10)); len(a) != 0 {
		t.Errorf("audit written by %s: %+v", after, a)
	}
	if e := must(s.EventsSince(ctx(t), 0, 10)); len(e) != 0 {
		t.Errorf("events written by %s: %+v", after, e)
	}
	if j := must(s.Rejections(ctx(t), "api", "")); len(j) != 0 {
		t.Errorf("rejections written by %s: %+v", after, j)
	}
	if q := must(s.ListQueue(ctx(t), 0, false)); len(q) != 0 {
		t.Errorf("queue entries written by %s: %+v", after, q)
	}
}

// testTransitionEventDedupe: the events of a step are stored in order, and
// one whose "id" is already stored (emitted before a crash, or carried again
// by the transition that follows a refused retry) is stored once.
func testTransitionEventDedupe(t *testing.T, s store.Store) {
	r := rollout(t, s, release(t, s, "api", "api-2026.05.12-8f3a91c"), "staging")
	early := must(s.AppendEvent(ctx(t), json.RawMessage(`{"id": "r/1/0", "event": "deployment_started"}`), at))
	step := store.Step{At: at, Effects: store.Effects{Events: events(
		`{"id": "r/1/0", "event": "deployment_started", "again": true}`, `{"id": "r/1/1", "event": "canary_step"}`)}}
	must(s.Transition(ctx(t), r.ID, 0, state("Canary", false), step))
	_, err := s.Transition(ctx(t), r.ID, 0, state("Canary", false), step) // the retry
	wantErr(t, err, store.ErrConflict)
	must(s.Transition(ctx(t), r.ID, 1, state("Canary-2", false), store.Step{At: at, Effects: store.Effects{Events: events(
		`{"id": "r/1/1", "event": "canary_step"}`, `{"id": "r/2/0", "event": "canary_step"}`,
		`{"event": "anonymous"}`, `{"id": "r/2/0", "event": "canary_step"}`)}}))

	evs := must(s.EventsSince(ctx(t), 0, 10))
	want := []string{`{"id": "r/1/0", "event": "deployment_started"}`, `{"id": "r/1/1", "event": "canary_step"}`,
		`{"id": "r/2/0", "event": "canary_step"}`, `{"event": "anonymous"}`}
	if len(evs) != len(want) || evs[0].ID != early {
		t.Fatalf("events = %+v, want %d with the first appended kept", evs, len(want))
	}
	for i := range want {
		sameJSON(t, "event "+strconv.Itoa(i), evs[i].Data, json.RawMessage(want[i]))
	}
}

// testCreateRolloutEffects: a creation's effects are written with the
// rollout, and a refused creation writes none of them.
func testCreateRolloutEffects(t *testing.T, s store.Store) {
	rel := release(t, s, "api", "api-2026.05.12-8f3a91c")
	newRollout := store.Rollout{ReleaseID: rel.ID, Environment: "production", RolloutState: state("Pending", false), CreatedAt: at}
	bad := store.Effects{Audit: &store.AuditEntry{At: at, Actor: "alice", Action: "release.start", Subject: "release/1"},
		Events: events(`{"event": "deployment_started"}`, `{"event":`)}
	_, err := s.CreateRollout(ctx(t), newRollout, bad)
	wantErr(t, err, store.ErrInvalid, "event 2 of 2")
	if rs := must(s.ListRollouts(ctx(t), store.RolloutFilter{})); len(rs) != 0 {
		t.Errorf("rollouts after a refused creation: %+v", rs)
	}
	nothingWritten(t, s, "a refused creation")

	with := store.Effects{Audit: bad.Audit, Events: events(`{"event": "deployment_started"}`, `{"id": "c/0", "event": "queued"}`),
		Stable: &store.StableVersion{Service: "api", Environment: "production", Version: "api-1", Digest: "sha256:01", At: at}}
	r := must(s.CreateRollout(ctx(t), newRollout, with))
	if a := must(s.AuditSince(ctx(t), 0, 10)); len(a) != 1 || a[0].Action != "release.start" {
		t.Errorf("audit = %+v", a)
	}
	evs := must(s.EventsSince(ctx(t), 0, 10))
	if len(evs) != 2 || !evs[0].At.Equal(norm(at)) {
		t.Fatalf("events = %+v", evs)
	}
	sameJSON(t, "second event", evs[1].Data, with.Events[1])
	if st := must(s.Stable(ctx(t), "api", "production")); st.RolloutID != r.ID {
		t.Errorf("stable set by rollout %d, want %d", st.RolloutID, r.ID)
	}

	// The environment is busy now: refused, and its effects with it.
	rel2 := release(t, s, "api", "api-2026.05.13-1234567")
	_, err = s.CreateRollout(ctx(t), store.Rollout{ReleaseID: rel2.ID, Environment: "production",
		RolloutState: state("Pending", false), CreatedAt: at}, store.Effects{Audit: bad.Audit, Events: events(`{"event": "x"}`)})
	wantErr(t, err, store.ErrConflict, "rollout "+itoa(r.ID))
	if a, e := must(s.AuditSince(ctx(t), 0, 10)), must(s.EventsSince(ctx(t), 0, 10)); len(a) != 1 || len(e) != 2 {
		t.Errorf("refused creation wrote: %d audit entries, %d events; want 1 and 2", len(a), len(e))
	}
}
