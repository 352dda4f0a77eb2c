package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

func enqueue(t testing.TB, s store.Store, rel store.Release, env string, supersede bool) store.QueueEntry {
	t.Helper()
	return must(s.Enqueue(ctx(t), store.QueueEntry{ReleaseID: rel.ID, Environment: env, Reason: env + " is busy",
		Supersede: supersede, CreatedAt: at}))
}

func queueIDs(qs []store.QueueEntry) (out []int64) {
	for _, q := range qs {
		out = append(out, q.ID)
	}
	return out
}

func testQueue(t *testing.T, s store.Store) {
	api := release(t, s, "api", "api-2026.05.12-8f3a91c")
	web := release(t, s, "web", "web-2026.05.12-8f3a91c")
	a := enqueue(t, s, api, "production", false)
	want := store.QueueEntry{ID: a.ID, ReleaseID: api.ID, Service: "api", Environment: "production",
		State: store.QueueWaiting, Reason: "production is busy", CreatedAt: norm(at), UpdatedAt: norm(at)}
	if a.ID == 0 || !reflect.DeepEqual(a, want) {
		t.Errorf("Enqueue = %+v, want %+v", a, want)
	}
	if got := must(s.GetQueued(ctx(t), a.ID)); !reflect.DeepEqual(got, want) {
		t.Errorf("GetQueued = %+v, want %+v", got, want)
	}
	if again := enqueue(t, s, api, "production", false); again.ID != a.ID {
		t.Errorf("enqueueing a waiting release again gave entry %d, want %d", again.ID, a.ID)
	}
	w := enqueue(t, s, web, "production", false)
	b := enqueue(t, s, api, "staging", false)
	must(s.Transition(ctx(t), rollout(t, s, web, "dev").ID, 0, state("Succeeded", true), store.Step{At: at}))
	ok(t, s.EndQueued(ctx(t), w.ID, store.QueueCancelled, "not now", nil))
	for _, tc := range []struct {
		release int64
		waiting bool
		want    []int64
	}{
		{0, false, []int64{a.ID, w.ID, b.ID}},
		{0, true, []int64{a.ID, b.ID}},
		{api.ID, false, []int64{a.ID, b.ID}},
		{web.ID, false, []int64{w.ID}},
		{web.ID, true, nil},
		{web.ID + 100, false, nil},
	} {
		if got := queueIDs(must(s.ListQueue(ctx(t), tc.release, tc.waiting))); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ListQueue(%d, %v) = %v, want %v", tc.release, tc.waiting, got, tc.want)
		}
	}

	_, err := s.GetQueued(ctx(t), b.ID+100)
	wantErr(t, err, store.ErrNotFound, "queue entry")
	_, err = s.Enqueue(ctx(t), store.QueueEntry{ReleaseID: web.ID + 100, Environment: "production"})
	wantErr(t, err, store.ErrNotFound, "release")
	_, err = s.Enqueue(ctx(t), store.QueueEntry{ReleaseID: api.ID})
	wantErr(t, err, store.ErrInvalid, "environment")
	_, err = s.Enqueue(ctx(t), store.QueueEntry{ReleaseID: api.ID, Service: "web", Environment: "dr"})
	wantErr(t, err, store.ErrInvalid, "does not match")
}

// testQueueSupersede: a superseding entry, by Enqueue or by a transition's
// effect, ends every other waiting entry of its service and environment.
func testQueueSupersede(t *testing.T, s store.Store) {
	api1 := release(t, s, "api", "api-2026.05.12-8f3a91c")
	api2 := release(t, s, "api", "api-2026.05.13-1234567")
	api3 := release(t, s, "api", "api-2026.05.14-abcdef0")
	web := release(t, s, "web", "web-2026.05.12-8f3a91c")
	old := enqueue(t, s, api1, "production", false)
	staging := enqueue(t, s, api1, "staging", false)
	other := enqueue(t, s, web, "production", false)
	later := at.Add(time.Hour)
	newer := must(s.Enqueue(ctx(t), store.QueueEntry{ReleaseID: api2.ID, Environment: "production", Supersede: true, CreatedAt: later}))

	got := must(s.GetQueued(ctx(t), old.ID))
	if got.State != store.QueueSuperseded || !got.UpdatedAt.Equal(norm(later)) || !got.CreatedAt.Equal(norm(at)) ||
		!strings.Contains(got.Reason, "release "+itoa(api2.ID)) || !strings.Contains(got.Reason, api2.Version) {
		t.Errorf("superseded entry = %+v, want superseded at %v by release %d (%s)", got, norm(later), api2.ID, api2.Version)
	}
	if got := queueIDs(must(s.ListQueue(ctx(t), 0, true))); !reflect.DeepEqual(got, []int64{staging.ID, other.ID, newer.ID}) {
		t.Errorf("waiting = %v, want staging, web and the newer entry", got)
	}
	wantErr(t, s.EndQueued(ctx(t), old.ID, store.QueueCancelled, "", nil), store.ErrConflict, "superseded, not waiting")

	// A rollout's success queues its release for the next environment,
	// superseding what waited there; the release is the rollout's.
	r := rollout(t, s, api3, "staging")
	must(s.Transition(ctx(t), r.ID, 0, state("Succeeded", true), store.Step{At: later,
		Effects: store.Effects{Enqueue: &store.QueueEntry{Environment: "production", Reason: "production is busy", Supersede: true}}}))
	waiting := must(s.ListQueue(ctx(t), 0, true))
	if got := queueIDs(waiting); len(got) != 3 || got[0] != staging.ID || got[1] != other.ID {
		t.Fatalf("waiting = %v, want staging, web and the new entry", got)
	}
	if q := waiting[2]; q.ReleaseID != api3.ID || q.Service != "api" || q.Environment != "production" {
		t.Errorf("queued by the transition: %+v, want release %d for production", q, api3.ID)
	}
	if got := must(s.GetQueued(ctx(t), newer.ID)); got.State != store.QueueSuperseded {
		t.Errorf("entry of release %d is %s, want superseded", api2.ID, got.State)
	}
}

// testQueueStart: a waiting release starts once its environment is free;
// while it is busy, starting is refused, writes nothing, and the entry
// keeps waiting.
func testQueueStart(t *testing.T, s store.Store) {
	api1 := release(t, s, "api", "api-2026.05.12-8f3a91c")
	api2 := release(t, s, "api", "api-2026.05.13-1234567")
	running := rollout(t, s, api1, "production")
	q := enqueue(t, s, api2, "production", false)
	later := at.Add(time.Hour)
	next := store.Rollout{RolloutState: state("Pending", false), CreatedAt: later}
	with := store.Effects{Audit: &store.AuditEntry{At: later, Actor: "belay", Action: "queue.start", Subject: "queue/" + itoa(q.ID)},
		Events: events(`{"event": "deployment_started"}`)}

	_, err := s.StartQueued(ctx(t), q.ID, next, with)
	wantErr(t, err, store.ErrConflict, "rollout "+itoa(running.ID), "in progress")
	if got := must(s.GetQueued(ctx(t), q.ID)); got.State != store.QueueWaiting || got.RolloutID != 0 {
		t.Errorf("entry after a refused start: %+v", got)
	}
	if rs := must(s.ListRollouts(ctx(t), store.RolloutFilter{Release: api2.ID})); len(rs) != 0 {
		t.Errorf("rollouts of release %d after a refused start: %+v", api2.ID, rs)
	}
	if a, e := must(s.AuditSince(ctx(t), 0, 10)), must(s.EventsSince(ctx(t), 0, 10)); len(a) != 0 || len(e) != 0 {
		t.Errorf("a refused start wrote %d audit entries and %d events", len(a), len(e))
	}

	must(s.Transition(ctx(t), running.ID, 0, state("Succeeded", true), store.Step{At: at}))
	r := must(s.StartQueued(ctx(t), q.ID, next, with))
	if r.ID == 0 || r.ReleaseID != api2.ID || r.Environment != "production" || r.Service != "api" || r.Version != api2.Version || r.Seq != 0 {
		t.Errorf("started rollout = %+v, want release %d in production", r, api2.ID)
	}
	if got := must(s.GetRollout(ctx(t), r.ID)); !reflect.DeepEqual(got, r) {
		t.Errorf("GetRollout = %+v, want %+v", got, r)
	}
	got := must(s.GetQueued(ctx(t), q.ID))
	if got.State != store.QueueStarted || got.RolloutID != r.ID || !got.UpdatedAt.Equal(norm(later)) || got.Reason != q.Reason {
		t.Errorf("started entry = %+v, want started with rollout %d", got, r.ID)
	}
	if a, e := must(s.AuditSince(ctx(t), 0, 10)), must(s.EventsSince(ctx(t), 0, 10)); len(a) != 1 || len(e) != 1 {
		t.Errorf("start wrote %d audit entries and %d events, want 1 and 1", len(a), len(e))
	}

	_, err = s.StartQueued(ctx(t), q.ID, next, store.Effects{})
	wantErr(t, err, store.ErrConflict, "started, not waiting")
	staging := enqueue(t, s, api2, "staging", false)
	_, err = s.StartQueued(ctx(t), staging.ID, store.Rollout{Environment: "production", RolloutState: state("Pending", false)}, store.Effects{})
	wantErr(t, err, store.ErrInvalid, "does not match queue entry")
	_, err = s.StartQueued(ctx(t), staging.ID+100, next, store.Effects{})
	wantErr(t, err, store.ErrNotFound, "queue entry")
	if got := must(s.GetQueued(ctx(t), staging.ID)); got.State != store.QueueWaiting {
		t.Errorf("entry after refused starts: %+v", got)
	}
}

// testQueueStartConcurrent: of many waiting releases started at once in a
// free environment, exactly one starts; the others are told which and keep
// waiting.
func testQueueStartConcurrent(t *testing.T, s store.Store) {
	const n = 8
	entries := make([]store.QueueEntry, n)
	for i := range entries {
		entries[i] = enqueue(t, s, release(t, s, "api", fmt.Sprintf("api-2026.05.%02d-8f3a91c", i+1)), "production", false)
	}
	ids := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := s.StartQueued(ctx(t), entries[i].ID, store.Rollout{RolloutState: state("Pending", false), CreatedAt: at},
				store.Effects{Events: events(fmt.Sprintf(`{"event": "started", "i": %d}`, i))})
			ids[i], errs[i] = r.ID, err
		})
	}
	wg.Wait()
	var winner int64
	for i, err := range errs {
		switch {
		case err == nil && winner != 0:
			t.Errorf("two rollouts started: %d and %d", winner, ids[i])
		case err == nil:
			winner = ids[i]
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("entry %d: %v", entries[i].ID, err)
		}
	}
	if winner == 0 {
		t.Fatalf("no rollout started: %v", errs)
	}
	if waiting := must(s.ListQueue(ctx(t), 0, true)); len(waiting) != n-1 {
		t.Errorf("%d entries waiting, want %d", len(waiting), n-1)
	}
	if evs := must(s.EventsSince(ctx(t), 0, 100)); len(evs) != 1 {
		t.Errorf("%d events, want the winner's only", len(evs))
	}
}

// testQueueCancel: ending an entry writes its audit entry with it, or
// neither.
func testQueueCancel(t *testing.T, s store.Store) {
	api := release(t, s, "api", "api-2026.05.12-8f3a91c")
	q := enqueue(t, s, api, "production", false)
	later := at.Add(time.Minute)
	audit := &store.AuditEntry{At: later, Actor: "bob", Action: "queue.cancel", Subject: "queue/" + itoa(q.ID), Reason: "hotfix first"}
	ok(t, s.EndQueued(ctx(t), q.ID, store.QueueCancelled, "cancelled by bob", audit))
	got := must(s.GetQueued(ctx(t), q.ID))
	if got.State != store.QueueCancelled || got.Reason != "cancelled by bob" || !got.UpdatedAt.Equal(norm(later)) || got.RolloutID != 0 {
		t.Errorf("cancelled entry = %+v", got)
	}
	if a := must(s.AuditSince(ctx(t), 0, 10)); len(a) != 1 || a[0].Actor != "bob" || a[0].Subject != audit.Subject {
		t.Errorf("audit = %+v", a)
	}
	wantErr(t, s.EndQueued(ctx(t), q.ID, store.QueueCancelled, "again", audit), store.ErrConflict, "cancelled, not waiting")
	if a := must(s.AuditSince(ctx(t), 0, 10)); len(a) != 1 {
		t.Errorf("%d audit entries after a refused cancel, want 1", len(a))
	}

	q2 := enqueue(t, s, api, "production", false) // the release may wait again
	if q2.ID == q.ID {
		t.Fatalf("enqueue after cancel returned the cancelled entry")
	}
	wantErr(t, s.EndQueued(ctx(t), q2.ID, store.QueueCancelled, "x", &store.AuditEntry{At: at, Action: "queue.cancel", Subject: "q"}),
		store.ErrInvalid, "actor")
	wantErr(t, s.EndQueued(ctx(t), q2.ID, store.QueueStarted, "x", nil), store.ErrInvalid, "not \"started\"")
	wantErr(t, s.EndQueued(ctx(t), q2.ID+100, store.QueueCancelled, "x", nil), store.ErrNotFound, "queue entry")
	if got := must(s.GetQueued(ctx(t), q2.ID)); got.State != store.QueueWaiting {
		t.Errorf("entry after refused ends: %+v", got)
	}
	ok(t, s.EndQueued(ctx(t), q2.ID, store.QueueSuperseded, "replaced by hand", nil))
	if got := must(s.GetQueued(ctx(t), q2.ID)); got.State != store.QueueSuperseded || got.UpdatedAt.IsZero() {
		t.Errorf("superseded entry = %+v, want a time from the store's clock", got)
	}
}
