package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// testLeases: a free lease is taken; another holder is refused until it
// expires or is released, then takes it with the next epoch; a renewal
// keeps the epoch and moves the expiry; bad arguments are refused.
func testLeases(t *testing.T, s store.Store) {
	const ttl = 15 * time.Second
	l, held := must2(s.AcquireLease(ctx(t), "sink:ops", "a", ttl, at))
	if !held || l.Holder != "a" || l.Epoch != 1 || !l.ExpiresAt.Equal(norm(at.Add(ttl))) {
		t.Fatalf("first acquire = %+v held=%v, want a's, epoch 1, until at+15s", l, held)
	}
	l, held = must2(s.AcquireLease(ctx(t), "sink:ops", "b", ttl, at.Add(10*time.Second)))
	if held || l.Holder != "a" {
		t.Fatalf("b took a's live lease: %+v held=%v", l, held)
	}
	l, held = must2(s.AcquireLease(ctx(t), "sink:ops", "a", ttl, at.Add(10*time.Second)))
	if !held || l.Epoch != 1 || !l.ExpiresAt.Equal(norm(at.Add(25*time.Second))) || !l.AcquiredAt.Equal(norm(at)) {
		t.Fatalf("renewal = %+v held=%v, want epoch 1 until at+25s, acquired at", l, held)
	}
	if _, held = must2(s.AcquireLease(ctx(t), "sink:ops", "b", ttl, at.Add(24*time.Second))); held {
		t.Fatal("b took the lease a second before its renewed expiry")
	}
	l, held = must2(s.AcquireLease(ctx(t), "sink:ops", "b", ttl, at.Add(25*time.Second)))
	if !held || l.Holder != "b" || l.Epoch != 2 {
		t.Fatalf("after expiry = %+v held=%v, want b's with epoch 2", l, held)
	}
	if _, held = must2(s.AcquireLease(ctx(t), "sink:other", "a", ttl, at.Add(25*time.Second))); !held {
		t.Fatal("leases are not independent by name")
	}
	ok(t, s.ReleaseLease(ctx(t), "sink:ops", "a")) // not a's: nothing happens
	if _, held = must2(s.AcquireLease(ctx(t), "sink:ops", "a", ttl, at.Add(26*time.Second))); held {
		t.Fatal("a released b's lease")
	}
	ok(t, s.ReleaseLease(ctx(t), "sink:ops", "b"))
	l, held = must2(s.AcquireLease(ctx(t), "sink:ops", "a", ttl, at.Add(27*time.Second)))
	if !held || l.Epoch != 3 {
		t.Fatalf("after b released = %+v held=%v, want a's with epoch 3", l, held)
	}
	for _, bad := range []struct {
		name, holder string
		ttl          time.Duration
	}{{"", "a", ttl}, {"x", "", ttl}, {"x", "a", 0}} {
		if _, _, err := s.AcquireLease(ctx(t), bad.name, bad.holder, bad.ttl, at); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("AcquireLease(%q, %q, %s) = %v, want ErrInvalid", bad.name, bad.holder, bad.ttl, err)
		}
	}
}

// testLeasesConcurrent: holders racing for one expired lease — exactly one
// gets it.
func testLeasesConcurrent(t *testing.T, s store.Store) {
	must2(s.AcquireLease(ctx(t), "leader", "old", time.Second, at))
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			holder := fmt.Sprintf("h%d", i)
			_, held, err := s.AcquireLease(ctx(t), "leader", holder, time.Minute, at.Add(2*time.Second))
			if err != nil {
				errs <- err
				return
			}
			if held {
				mu.Lock()
				winners = append(winners, holder)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(winners) != 1 {
		t.Fatalf("%d holders took the expired lease (%v), want exactly one", len(winners), winners)
	}
	l, _ := must2(s.AcquireLease(ctx(t), "leader", "someone", time.Minute, at.Add(3*time.Second)))
	if l.Holder != winners[0] || l.Epoch != 2 {
		t.Fatalf("lease = %+v, want %s's with epoch 2", l, winners[0])
	}
}
