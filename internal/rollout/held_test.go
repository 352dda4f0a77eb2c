package rollout

import (
	"testing"
	"time"
)

// TestHoldStopsTheStepClock: time held while a host is unknown does not
// count towards the step's minimum duration or the watch.
func TestHoldStopsTheStepClock(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	s := State{Phase: Canary, StepStarted: t0}
	s, _ = held(s, Observation{Hosts: []string{"b"}}, t0.Add(20*time.Second))
	if len(s.Held) != 1 || !s.HeldSince.Equal(t0.Add(20*time.Second)) {
		t.Fatalf("hold: held %v since %v", s.Held, s.HeldSince)
	}
	s, _ = held(s, Observation{Hosts: []string{"b", "c"}}, t0.Add(30*time.Second)) // more hosts: the same hold
	if !s.HeldSince.Equal(t0.Add(20 * time.Second)) {
		t.Fatalf("a second unknown host restarted the hold at %v", s.HeldSince)
	}
	s, _ = held(s, Observation{}, t0.Add(5*time.Minute+20*time.Second))
	if len(s.Held) != 0 || !s.HeldSince.IsZero() || !s.StepStarted.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("after the hold: held %v since %v, step started %v; want the step's clock 5m later", s.Held, s.HeldSince, s.StepStarted)
	}
	w := State{Phase: Watching, WatchStarted: t0}
	w.Watch = 10 * time.Minute
	w, _ = held(w, Observation{Hosts: []string{"b"}}, t0.Add(time.Minute))
	w, _ = held(w, Observation{}, t0.Add(4*time.Minute))
	if !w.WatchStarted.Equal(t0.Add(3*time.Minute)) || w.WatchLeft(t0.Add(4*time.Minute)) != 9*time.Minute {
		t.Fatalf("watch started %v, left %v; want 3m later and 9m left", w.WatchStarted, w.WatchLeft(t0.Add(4*time.Minute)))
	}
}
