package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/open"
	"github.com/belay-dev/belay/internal/store/sqlite"
	"github.com/belay-dev/belay/internal/store/storetest"
)

// TestJudgeKeepsStateInTheStore: the judge's analyzers live in the real
// store, SQLite or PostgreSQL. A judge restarted on the same database — on
// PostgreSQL, as on another host with an empty home: nothing of the judge is
// on disk — resumes a rollout's step where it was (same verdicts, same
// analyzer as a judge never restarted), a new step replaces the old one's
// state, and Forget removes them all.
func TestJudgeKeepsStateInTheStore(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "belay.db"), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		judgeResumes(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := open.Open(context.Background(), storetest.PostgresURL(t), t.TempDir(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		judgeResumes(t, db)
	})
}

func judgeResumes(t *testing.T, db store.Store) {
	ctx := context.Background()
	rel, err := db.CreateRelease(ctx, store.Release{Service: "api", Version: "v2", Owner: "alice", Plan: json.RawMessage(`{}`), CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	ro, err := db.CreateRollout(ctx, store.Rollout{ReleaseID: rel.ID, Environment: "production",
		RolloutState: store.RolloutState{Phase: string(rollout.Canary), State: json.RawMessage(`{}`)}, CreatedAt: time.Now()}, store.Effects{})
	if err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(ro.ID, 10)

	src := newSnapshots(30)
	ref, j := testJudge(t, src, nil), testJudge(t, src, db)
	st := canaryState(id, 0)
	for i := range 30 {
		src.tick = i
		if i == 12 {
			j = testJudge(t, src, db) // the server restarted: nothing in memory
		}
		want, err := ref.Judge(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		got, err := j.Judge(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("tick %d: restarted judge says %+v, uninterrupted one %+v", i, got, want)
		}
	}
	stored, err := db.LoadAnalysis(ctx, ro.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, stored, []byte(analyzerJSON(t, j, id, 0))) {
		t.Fatal("the store does not hold the last tick's analyzer")
	}

	st.Step = 1 // the rollout moved on: step 0's state goes
	if _, err := j.Judge(ctx, st); err != nil {
		t.Fatal(err)
	}
	if _, err := db.LoadAnalysis(ctx, ro.ID, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("step 0's state after step 1 began: %v, want ErrNotFound", err)
	}
	if _, err := db.LoadAnalysis(ctx, ro.ID, 1); err != nil {
		t.Errorf("step 1's state: %v", err)
	}
	j.Forget(id)
	if _, err := db.LoadAnalysis(ctx, ro.ID, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("step 1's state after Forget: %v, want ErrNotFound", err)
	}
}

// jsonEqual compares two JSON documents by value: a store may keep JSON in
// another spacing or key order than it was given.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}
