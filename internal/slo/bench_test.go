package slo_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/slo"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/sqlite"
)

// BenchmarkJudgeBuiltin30d: one SLO judgement (every window of the four
// pairs and the 30-day window) over a full 30 days of per-minute samples
// (43,200 rows) in SQLite — what the builtin source costs per read.
func BenchmarkJudgeBuiltin30d(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "state.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	const rows = 30 * 24 * 60
	for i := range rows {
		if err := st.AddSLOSample(context.Background(), store.SLOSample{Environment: "production", Service: "api",
			At: now.Add(-time.Duration(i) * time.Minute), Requests: 3000, Errors: 2}); err != nil {
			b.Fatal(err)
		}
	}
	r := slo.Samples{Store: st, Now: func() time.Time { return now }}
	o := slo.Objective{Objective: 0.999, Window: 30 * 24 * time.Hour}
	b.ResetTimer()
	b.Run("status", func(b *testing.B) { // belay slo: every pair and the budget
		for b.Loop() {
			if rep, err := slo.Judge(context.Background(), r, "production", "api", o, slo.Pairs); err != nil || rep.Status != slo.StatusOK {
				b.Fatalf("%v %v", rep.Status, err)
			}
		}
	})
	b.Run("verdict", func(b *testing.B) { // a rollout's tick: the page pairs only
		for b.Loop() {
			if rep, err := slo.JudgeBurn(context.Background(), r, "production", "api", o, slo.PagePairs()); err != nil || rep.Status != slo.StatusOK {
				b.Fatalf("%v %v", rep.Status, err)
			}
		}
	})
}
