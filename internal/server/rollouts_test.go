package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/open"
	"github.com/belay-dev/belay/internal/target"
)

func TestRolloutStoreAdapter(t *testing.T) {
	ctx := context.Background()
	st, err := open.Open(ctx, "", t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rel, err := st.CreateRelease(ctx, store.Release{Service: "hello", Version: "v2", Owner: "ana", Plan: json.RawMessage(`{}`), CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	s0, err := rollout.New(rollout.Config{ID: "new", Service: "hello", Environment: "production", Strategy: rollout.AllAtOnce,
		New: target.Version{Version: "v2"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s0)
	_, err = st.CreateRollout(ctx, store.Rollout{ReleaseID: rel.ID, Service: "hello", Environment: "production", Version: "v2",
		RolloutState: store.RolloutState{Phase: string(s0.Phase), State: b}}, store.Effects{})
	if err != nil {
		t.Fatal(err)
	}
	var finished []string
	rs := rolloutStore{st: st, finished: func(id string) { finished = append(finished, id) }}
	active, err := rs.Active(ctx)
	if err != nil || len(active) != 1 || active[0].ID != "1" || active[0].Seq != 0 {
		t.Fatalf("active %+v %v", active, err)
	}
	next, acts := rollout.Next(active[0], rollout.Observation{Kind: rollout.Tick}, time.Now())
	if len(acts) == 0 {
		t.Fatal("no transition from Pending")
	}
	tr := rollout.NewTransition(active[0], next, rollout.Observation{Kind: rollout.Tick}, time.Now())
	tr.Override, tr.Actor, tr.Command = true, "ana", rollout.CmdResume
	if err := rs.Transition(ctx, "1", 0, next, tr); err != nil {
		t.Fatal(err)
	}
	// the same transition again is a conflict, never applied twice
	if err := rs.Transition(ctx, "1", 0, next, tr); !errors.Is(err, rollout.ErrConflict) {
		t.Fatalf("replayed transition: %v", err)
	}
	got, err := rs.Get(ctx, "1")
	if err != nil || got.Phase != next.Phase || got.Seq != 1 {
		t.Fatalf("get %+v %v", got, err)
	}
	audit, _ := st.AuditSince(ctx, 0, 10)
	if len(audit) != 1 || audit[0].Actor != "ana" || audit[0].Action != "override.resume" || audit[0].Subject != "rollout/1" {
		t.Fatalf("audit %+v", audit)
	}
	if _, err := rs.Get(ctx, "x"); !errors.Is(err, rollout.ErrNotFound) {
		t.Fatalf("bad id: %v", err)
	}
	if len(finished) != 0 {
		t.Fatalf("a rollout in %s was reported finished", got.Phase)
	}
	end := got
	end.Phase, end.Pending, end.Seq = rollout.Failed, nil, 2
	if err := rs.Transition(ctx, "1", 1, end, rollout.NewTransition(got, end, rollout.Observation{Kind: rollout.Tick}, time.Now())); err != nil {
		t.Fatal(err)
	}
	if len(finished) != 1 || finished[0] != "1" {
		t.Fatalf("finished %v, want [1]: the judge would keep the analysis files of an ended rollout", finished)
	}
}

func TestStatusOfMapsSentinels(t *testing.T) {
	for err, want := range map[error]int{
		store.ErrNotFound: 404, store.ErrConflict: 409, ErrOutOfOrder: 409, ErrBadRequest: 422,
		rollout.ErrNotAllowed: 422, errors.New("disk on fire"): 500,
	} {
		if got := statusOf(err); got != want {
			t.Errorf("%v: %d, want %d", err, got, want)
		}
	}
}
