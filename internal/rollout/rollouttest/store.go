// Package rollouttest holds honest in-memory fakes for testing rollouts: a
// Store with the optimistic concurrency a database store has, and a Target
// that records every desired state applied to it.
package rollouttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/rollout"
)

// ErrCrash is what a Store returns when a simulated crash is due.
var ErrCrash = errors.New("simulated crash")

// Store keeps rollouts in memory. States are copied through JSON on the way
// in and out, as a database would, so no caller shares memory with it.
type Store struct {
	mu      sync.Mutex
	states  map[string][]byte
	history map[string][]rollout.Transition
	// crashAt, when > 0, makes the crashAt-th Transition call (counted over
	// the store's life) fail with ErrCrash, after committing if crashAfter.
	crashAt    int
	crashAfter bool
	calls      int
	crashes    int
	// events and stables are what committed transitions carried, in order.
	events  []event.Event
	stables []string
}

var _ rollout.Store = (*Store)(nil)

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{states: map[string][]byte{}, history: map[string][]rollout.Transition{}}
}

// Create stores a new rollout.
func (m *Store) Create(_ context.Context, s rollout.State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.states[s.ID]; ok {
		return fmt.Errorf("rollout %s exists", s.ID)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	m.states[s.ID] = b
	return nil
}

// CrashAt arranges for the n-th Transition call from now to fail with ErrCrash:
// after committing (the process died after persisting, before acting) or
// before (it died after acting, before persisting).
func (m *Store) CrashAt(n int, afterCommit bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.crashAt, m.crashAfter, m.calls = n, afterCommit, 0
}

// Active lists active rollouts by id.
func (m *Store) Active(_ context.Context) ([]rollout.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []rollout.State
	for _, b := range m.states {
		var s rollout.State
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
		if s.Active() {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Get returns rollout id.
func (m *Store) Get(_ context.Context, id string) (rollout.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.states[id]
	if !ok {
		return rollout.State{}, fmt.Errorf("%w: %s", rollout.ErrNotFound, id)
	}
	var s rollout.State
	err := json.Unmarshal(b, &s)
	return s, err
}

// Transition replaces the state when expectedSeq matches.
func (m *Store) Transition(_ context.Context, id string, expectedSeq int64, next rollout.State, t rollout.Transition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	crash := m.crashAt > 0 && m.calls == m.crashAt
	if crash {
		m.crashes++
	}
	if crash && !m.crashAfter {
		return ErrCrash
	}
	b, ok := m.states[id]
	if !ok {
		return fmt.Errorf("%w: %s", rollout.ErrNotFound, id)
	}
	var cur rollout.State
	if err := json.Unmarshal(b, &cur); err != nil {
		return err
	}
	if cur.Seq != expectedSeq {
		return fmt.Errorf("%w: %s is at %d, not %d", rollout.ErrConflict, id, cur.Seq, expectedSeq)
	}
	if next.Seq != expectedSeq+1 {
		return fmt.Errorf("rollout %s: new seq %d after %d", id, next.Seq, expectedSeq)
	}
	nb, err := json.Marshal(next)
	if err != nil {
		return err
	}
	m.states[id] = nb
	m.history[id] = append(m.history[id], t)
	m.events = append(m.events, t.Events...)
	if t.Stable != nil {
		m.stables = append(m.stables, next.Environment+":"+t.Stable.Version)
	}
	if crash {
		return ErrCrash
	}
	return nil
}

// Crashes counts the simulated crashes so far.
func (m *Store) Crashes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.crashes
}

// Events returns the events of every committed transition, in order.
func (m *Store) Events() []event.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]event.Event(nil), m.events...)
}

// Stables returns "environment:version" for every stable version committed
// transitions set, in order.
func (m *Store) Stables() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.stables...)
}

// History returns the transitions of rollout id in order.
func (m *Store) History(id string) []rollout.Transition {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]rollout.Transition(nil), m.history[id]...)
}
