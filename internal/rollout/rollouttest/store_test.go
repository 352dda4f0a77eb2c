package rollouttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/target"
)

func newState(t *testing.T, id string) rollout.State {
	s, err := rollout.New(rollout.Config{
		ID: id, Service: "api", Environment: "staging", Strategy: rollout.AllAtOnce,
		New: target.Version{Version: "api-v2"},
	}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreOptimisticConcurrency(t *testing.T) {
	ctx := context.Background()
	m := NewStore()
	s := newState(t, "r1")
	if err := m.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := m.Create(ctx, s); err == nil {
		t.Fatal("created twice")
	}
	next, _ := rollout.Next(s, rollout.Observation{Kind: rollout.Tick}, time.Unix(1, 0))
	next, tr := rollout.Record(s, next, rollout.Observation{Kind: rollout.Tick}, time.Unix(1, 0))
	if err := m.Transition(ctx, "r1", 0, next, tr); err != nil {
		t.Fatal(err)
	}
	if err := m.Transition(ctx, "r1", 0, next, tr); !errors.Is(err, rollout.ErrConflict) {
		t.Fatalf("stale write: %v", err)
	}
	if _, err := m.Get(ctx, "nope"); !errors.Is(err, rollout.ErrNotFound) {
		t.Fatalf("get: %v", err)
	}
	got, _ := m.Get(ctx, "r1")
	if got.Phase != rollout.Verifying || got.Seq != 1 || len(m.History("r1")) != 1 {
		t.Fatalf("stored %+v", got)
	}
}

func TestStoreActiveAndCrash(t *testing.T) {
	ctx := context.Background()
	m := NewStore()
	a, b := newState(t, "a"), newState(t, "b")
	m.Create(ctx, a)
	m.Create(ctx, b)
	abort := rollout.Observation{Kind: rollout.Manual, Command: &rollout.Command{Kind: rollout.CmdAbort, Actor: "x"}}
	failed, _ := rollout.Next(b, abort, time.Unix(1, 0))
	m.CrashAt(1, true)
	if err := m.Transition(ctx, "b", 0, failed, rollout.Transition{}); !errors.Is(err, ErrCrash) {
		t.Fatalf("crash: %v", err)
	}
	settled, _ := rollout.Next(failed, rollout.Observation{Kind: rollout.Done, Seq: failed.Seq}, time.Unix(1, 0))
	if err := m.Transition(ctx, "b", 1, settled, rollout.Transition{}); err != nil {
		t.Fatal(err)
	}
	act, _ := m.Active(ctx)
	if len(act) != 1 || act[0].ID != "a" || m.Crashes() != 1 {
		t.Fatalf("active %v, crashes %d", act, m.Crashes())
	}
}
