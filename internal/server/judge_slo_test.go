package server

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/sqlite"
)

// sloJudge is testJudge with the service's SLO read from the samples in a
// real SQLite store (the builtin source), as the server wires it.
func sloJudge(t *testing.T, src *snapshots) (*Judge, store.Store) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "belay.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	doc := project(t, strings.Replace(judgeYAML, "environments:", "    slo: {objective: 99.9%}\nenvironments:", 1))
	return NewJudge(JudgeDeps{
		Source:  func(*spec.Analysis) (analysis.Source, error) { return src, nil },
		Project: func() (*spec.Project, error) { return doc, nil },
		Now:     src.now,
		SLO:     (&SLOReaders{Samples: db, Now: src.now}).For,
	}), db
}

// fill stores a minute's sample for each of the last n minutes before now.
func fill(t *testing.T, db store.Store, env string, now time.Time, n int, requests, errors int64) {
	t.Helper()
	for i := range n {
		err := db.AddSLOSample(context.Background(), store.SLOSample{Environment: env, Service: "api",
			At: now.Add(-time.Duration(i) * time.Minute), Requests: requests, Errors: errors})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func sloEvidence(v analysis.Verdict) (analysis.Evidence, bool) {
	for _, e := range v.Evidence {
		if e.Check == SLOCheck {
			return e, true
		}
	}
	return analysis.Evidence{}, false
}

// TestJudgeRollsBackOnFastBurn: samples in the store that burn the
// production budget fast (10 % errors against a 99.9 % objective: burn rate
// 100 over 1h and 5m) fail a canary step and a watch whose own triggers are
// quiet, with slo:availability as the trigger and in the evidence.
func TestJudgeRollsBackOnFastBurn(t *testing.T) {
	src := newSnapshots(3)
	j, db := sloJudge(t, src)
	fill(t, db, "production", src.now(), 70, 1000, 100)
	fill(t, db, "staging", src.now(), 70, 1000, 0) // another environment's budget is not this rollout's
	for _, st := range []rollout.State{canaryState("1", 0), watching(canaryState("2", 0))} {
		v, err := j.Judge(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		e, ok := sloEvidence(v)
		if v.Decision != analysis.Fail || v.Trigger != SLOCheck || !ok || e.State != "firing" {
			t.Fatalf("%s: verdict %s by %q (%q), slo evidence %+v; want a fail by %s", st.Phase, v.Decision, v.Trigger, v.Reason, e, SLOCheck)
		}
		if e.Threshold != 14.4 || e.Canary < 99 || e.Canary > 101 {
			t.Errorf("evidence %+v: want burn rate ≈100 against 14.4", e)
		}
		if !strings.Contains(v.Reason, "burns its error budget fast in production") {
			t.Errorf("reason %q", v.Reason)
		}
	}
}

// TestJudgeQuietSLODoesNotRollBack: a budget spent slowly (0.05 % errors,
// burn rate 0.5) or one burnt long ago leaves the verdict to the analysis,
// with the SLO's evidence beside it.
func TestJudgeQuietSLODoesNotRollBack(t *testing.T) {
	src := newSnapshots(3)
	j, db := sloJudge(t, src)
	fill(t, db, "production", src.now(), 70, 10000, 5)
	// a fast burn that ended 2 hours ago: the 1h and 6h pairs' short windows are clean
	fill(t, db, "production", src.now().Add(-2*time.Hour), 30, 1000, 500)
	v, err := j.Judge(context.Background(), canaryState("1", 0))
	if err != nil {
		t.Fatal(err)
	}
	e, ok := sloEvidence(v)
	if v.Decision == analysis.Fail || !ok || e.State != "ok" {
		t.Fatalf("verdict %s by %q (%q), slo evidence %+v; want no fail, evidence ok", v.Decision, v.Trigger, v.Reason, e)
	}
	// no samples at all: no data, reported and not acted on
	j2, _ := sloJudge(t, src)
	v, err = j2.Judge(context.Background(), canaryState("1", 0))
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := sloEvidence(v); v.Decision == analysis.Fail || !ok || e.State != "no_data" {
		t.Fatalf("empty store: verdict %s, slo evidence %+v; want no fail, no_data", v.Decision, e)
	}
}

func watching(st rollout.State) rollout.State {
	st.Phase = rollout.Watching
	return st
}
