package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/belay-dev/belay/internal/store"
)

// testTransitionConcurrent: many engines race to move one rollout; at each
// seq exactly one wins, the others get ErrConflict (never a busy or
// serialisation error), and the transitions have no gaps or duplicates.
func testTransitionConcurrent(t *testing.T, s store.Store) {
	const workers, seqs = 8, 15
	rel := release(t, s, "api", "api-2026.05.12-8f3a91c")
	r := rollout(t, s, rel, "staging")
	winners := make([][]int, seqs) // seq index → workers that won it
	var mu sync.Mutex
	for seq := range seqs {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				_, err := s.Transition(ctx(t), r.ID, int64(seq), state(fmt.Sprintf("Canary-%d", seq+1), false),
					store.Step{At: at, Reason: fmt.Sprintf("worker %d", w)})
				if err != nil && !errors.Is(err, store.ErrConflict) {
					t.Errorf("seq %d worker %d: %v", seq, w, err)
					return
				}
				if err == nil {
					mu.Lock()
					winners[seq] = append(winners[seq], w)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	trs := must(s.Transitions(ctx(t), r.ID))
	if len(trs) != seqs {
		t.Fatalf("%d transitions, want %d", len(trs), seqs)
	}
	for i, tr := range trs {
		if len(winners[i]) != 1 {
			t.Errorf("seq %d: winners %v, want exactly one", i+1, winners[i])
			continue
		}
		if tr.Seq != int64(i+1) || tr.Reason != fmt.Sprintf("worker %d", winners[i][0]) {
			t.Errorf("transition %d = %+v, want the winner's (worker %d)", i+1, tr, winners[i][0])
		}
	}
	if got := must(s.GetRollout(ctx(t), r.ID)); got.Seq != seqs {
		t.Errorf("rollout seq = %d, want %d", got.Seq, seqs)
	}
}

// testCreateRolloutConcurrent: of many concurrent starts in one environment
// exactly one succeeds; the others are told which one runs.
func testCreateRolloutConcurrent(t *testing.T, s store.Store) {
	const n = 10
	rels := make([]store.Release, n)
	for i := range rels {
		rels[i] = release(t, s, "api", fmt.Sprintf("api-2026.05.%02d-8f3a91c", i+1))
	}
	ids := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := s.CreateRollout(ctx(t), store.Rollout{ReleaseID: rels[i].ID, Environment: "production",
				RolloutState: state("Pending", false), CreatedAt: at}, store.Effects{})
			ids[i], errs[i] = r.ID, err
		})
	}
	wg.Wait()
	var winner int64
	for i, err := range errs {
		if err == nil {
			if winner != 0 {
				t.Errorf("two rollouts started: %d and %d", winner, ids[i])
			}
			winner = ids[i]
		}
	}
	if winner == 0 {
		t.Fatalf("no rollout started: %v", errs)
	}
	for _, err := range errs {
		if err != nil {
			wantErr(t, err, store.ErrConflict, "rollout "+itoa(winner))
		}
	}
	if active := must(s.ListRollouts(ctx(t), store.RolloutFilter{Active: true})); len(active) != 1 {
		t.Errorf("%d active rollouts, want 1", len(active))
	}
}

// testEventsFollowConcurrent: a follower polling while many writers append
// sees every event exactly once, in increasing ID order.
func testEventsFollowConcurrent(t *testing.T, s store.Store) {
	const writers, each = 6, 20
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := s.AppendEvent(ctx(t), []byte(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)), at); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	seen := map[string]bool{}
	var last int64
	follow := func() {
		evs := must(s.EventsSince(ctx(t), last, 7))
		for _, e := range evs {
			if e.ID <= last {
				t.Fatalf("event %d after %d", e.ID, last)
			}
			if seen[string(e.Data)] {
				t.Fatalf("event %s seen twice", e.Data)
			}
			seen[string(e.Data)], last = true, e.ID
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		follow()
	}
	for n := -1; n != len(seen); {
		n = len(seen)
		follow()
	}
	if len(seen) != writers*each {
		t.Errorf("follower saw %d events, want %d (skipped some)", len(seen), writers*each)
	}
}
