package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/sqlstore"
)

// MigrationOpener opens the same database each call, migrating it with ms.
type MigrationOpener func(ms []sqlstore.Migration) (store.Store, error)

// Migrations checks a backend's migrations on one database: an old schema
// is upgraded, re-opening is idempotent and keeps data, a failing step changes nothing, a newer schema
// is refused with a clear message.
func Migrations(t *testing.T, ms []sqlstore.Migration, fresh func(t *testing.T) MigrationOpener) {
	if len(ms) == 0 {
		t.Fatal("no migrations")
	}
	open := fresh(t)
	reopen := func(ms []sqlstore.Migration) store.Store {
		t.Helper()
		s, err := open(ms)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := reopen(ms[:1]) // as the first release of belay left it
	if _, err := s.AppendEvent(t.Context(), []byte(`{"event":"kept"}`), at); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	reopen(ms).Close() // upgraded step by step
	s = reopen(ms)     // idempotent: nothing re-applied, data kept
	if evs, err := s.EventsSince(t.Context(), 0, 10); err != nil || len(evs) != 1 {
		t.Fatalf("after re-open: events %v, %v", evs, err)
	}
	_ = s.Close()

	broken := append(ms[:len(ms):len(ms)], sqlstore.Migration{Version: len(ms) + 1, Name: "broken",
		SQL: "CREATE TABLE half_done (x INTEGER); SELECT * FROM no_such_table"})
	_, err := open(broken)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("migration %d (broken)", len(ms)+1)) {
		t.Fatalf("broken migration: error %v, want one naming it", err)
	}
	newer := append(ms[:len(ms):len(ms)], sqlstore.Migration{Version: len(ms) + 1, Name: "half_done",
		SQL: "CREATE TABLE half_done (x INTEGER)"}) // succeeds only if the broken step left nothing
	reopen(newer).Close()

	_, err = open(ms)
	if !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("opening a newer schema: %v, want ErrSchemaTooNew", err)
	}
	for _, f := range []string{fmt.Sprintf("schema version %d", len(ms)+1), fmt.Sprintf("knows up to %d", len(ms)), "newer"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not say %q", err, f)
		}
	}
}

// SharedDatabase checks that two stores on one database (two processes,
// or two control planes) write concurrently without errors, and that their
// racing transitions still apply exactly once per seq.
func SharedDatabase(t *testing.T, open Opener) {
	defer fatalOnFailure(t)
	a, b := open(t), open(t)
	rel := release(t, a, "api", "api-2026.05.12-8f3a91c")
	r := rollout(t, a, rel, "staging")
	const seqs = 10
	var wins [seqs]atomic.Int32
	var wg sync.WaitGroup
	for w, s := range []store.Store{a, b, a, b} {
		wg.Go(func() {
			for i := range 25 {
				if _, err := s.AppendEvent(t.Context(), []byte(fmt.Sprintf(`{"i":%d}`, i)), at); err != nil {
					t.Error(err)
					return
				}
			}
			for seq := range int64(seqs) {
				// Wait for the rollout to reach seq, then race for it.
				for cur := int64(-1); cur < seq; {
					got, err := s.GetRollout(t.Context(), r.ID)
					if err != nil {
						t.Error(err)
						return
					}
					cur = got.Seq
				}
				_, err := s.Transition(t.Context(), r.ID, seq, state(fmt.Sprintf("Canary-%d", seq+1), false),
					store.Step{At: at, Reason: fmt.Sprintf("worker %d", w)})
				switch {
				case err == nil:
					wins[seq].Add(1)
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("worker %d seq %d: %v", w, seq, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if evs := must(a.EventsSince(t.Context(), 0, 1000)); len(evs) != 100 {
		t.Errorf("%d events, want 100", len(evs))
	}
	for i := range wins {
		if n := wins[i].Load(); n != 1 {
			t.Errorf("seq %d won %d times, want once", i, n)
		}
	}
	if trs := must(b.Transitions(t.Context(), r.ID)); len(trs) != seqs {
		t.Errorf("%d transitions, want %d", len(trs), seqs)
	}
}
