package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/sqlite"
)

// TestJudgeRecordsSamples: at each tick (at most one a second) the judge
// stores what each version served since the last sample, so that the
// samples add up to the counters' increase, with the interval's p95.
func TestJudgeRecordsSamples(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "belay.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rel, err := db.CreateRelease(ctx, store.Release{Service: "api", Version: "v2", Owner: "alice", Plan: json.RawMessage(`{}`), CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	ro, err := db.CreateRollout(ctx, store.Rollout{ReleaseID: rel.ID, Environment: "production",
		RolloutState: store.RolloutState{Phase: string(rollout.Canary), State: json.RawMessage(`{}`)}, CreatedAt: time.Now()}, store.Effects{})
	if err != nil {
		t.Fatal(err)
	}
	const ticks = 20
	src := newSnapshots(ticks)
	j := testJudge(t, src, db)
	j.d.Samples = db
	st := canaryState(strconv.FormatInt(ro.ID, 10), 0)
	for i := range ticks {
		src.tick = i
		if _, err := j.Judge(ctx, st); err != nil {
			t.Fatal(err)
		}
		if i == 5 { // a second look in the same second records nothing more
			if _, err := j.Judge(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
	}
	ss, err := db.SamplesOf(ctx, ro.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.Sample{}
	n := map[string]int{}
	for _, s := range ss {
		g := got[s.Version]
		g.Requests += s.Requests
		g.Errors += s.Errors
		got[s.Version] = g
		n[s.Version]++
		if s.P95 == nil || *s.P95 <= 0 || *s.P95 > 1 {
			t.Errorf("sample %+v: want a p95 between 0 and 1 s", s)
		}
	}
	for _, c := range src.cs[ticks-1] {
		first := src.cs[0]
		var base int64
		var baseErr int64
		for _, f := range first {
			if f.Version == c.Version {
				base, baseErr = f.Requests, f.Errors
			}
		}
		g := got[c.Version]
		if g.Requests != c.Requests-base || g.Errors != c.Errors-baseErr {
			t.Errorf("%s: samples add up to %d requests, %d errors; the counters grew by %d, %d", c.Version, g.Requests, g.Errors, c.Requests-base, c.Errors-baseErr)
		}
		if n[c.Version] != ticks-1 {
			t.Errorf("%s: %d samples over %d one-second ticks, want %d (the first tick only starts the analyzer)", c.Version, n[c.Version], ticks, ticks-1)
		}
	}
}
