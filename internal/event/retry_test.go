package event

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestRetryNext(t *testing.T) {
	t0 := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	r := Retry{Base: time.Second, Max: 8 * time.Second, GiveUpAfter: time.Hour, MinAttempts: 3, MaxAttempts: 10}
	fail := errors.New("500")
	for _, tc := range []struct {
		attempts int
		now      time.Time
		jitter   float64
		err      error
		wait     time.Duration // -1: give up
	}{
		{1, t0, 0, fail, 500 * time.Millisecond},
		{1, t0, 0.999999999, fail, time.Second},
		{2, t0, 0.5, fail, 1500 * time.Millisecond},
		{4, t0, 0, fail, 4 * time.Second},
		{9, t0, 1, fail, 8 * time.Second}, // capped at Max
		{10, t0, 0, fail, -1},             // MaxAttempts
		{2, t0.Add(2 * time.Hour), 0, fail, 500 * time.Millisecond * 2},
		{3, t0.Add(time.Hour), 0, fail, -1}, // old and tried enough
		{1, t0, 0, fmt.Errorf("%w: 400", ErrRejected), -1},
	} {
		at, giveUp := r.Next(tc.err, tc.attempts, t0, tc.now, tc.jitter)
		if tc.wait < 0 {
			if !giveUp {
				t.Errorf("%+v: retry at %s, want give up", tc, at)
			}
			continue
		}
		if giveUp || at.Sub(tc.now).Round(time.Millisecond) != tc.wait {
			t.Errorf("%+v: wait %s (give up %v), want %s", tc, at.Sub(tc.now), giveUp, tc.wait)
		}
	}
}

// The default policy gives a dead sink about an hour and about 20 tries.
func TestDefaultRetryBounded(t *testing.T) {
	t0 := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	now, n := t0, 0
	for {
		n++
		at, giveUp := DefaultRetry.Next(errors.New("500"), n, t0, now, 0.5)
		if giveUp {
			break
		}
		now = at
	}
	if age := now.Sub(t0); age < time.Hour || age > 70*time.Minute || n < 10 || n > 25 {
		t.Errorf("gave up after %d tries and %s", n, age)
	}
}
