package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/replay"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target"
)

const judgeYAML = `
services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout:
      strategy: canary
      steps: [{weight: 10%, min_duration: 1m}, {weight: 100%}]
    rollback_trigger: ["error_rate > 5% for 30s"]
    rollback_action: deploy previous_stable
environments:
  - name: production
`

// snapshots are a generated request stream's cumulative counters, one per
// second: the same numbers whichever judge reads them.
type snapshots struct {
	at   []time.Time
	cs   [][]target.Counters
	tick int
}

func newSnapshots(n int) *snapshots {
	t0 := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	s := replay.New(42, t0,
		replay.Arm{Version: "v2", Rate: 20, ErrorRate: 0.01, Median: 0.02, Sigma: 0.5},
		replay.Arm{Version: "v1", Rate: 180, ErrorRate: 0.001, Median: 0.02, Sigma: 0.5})
	out := &snapshots{}
	for range n {
		s.Advance(time.Second)
		out.at, out.cs = append(out.at, s.Now()), append(out.cs, s.Counters())
	}
	return out
}

func (s *snapshots) Counters(context.Context, analysis.Query) ([]target.Counters, error) {
	return s.cs[s.tick], nil
}

func (s *snapshots) now() time.Time { return s.at[s.tick] }

func testJudge(t *testing.T, src *snapshots, dir string) *Judge {
	t.Helper()
	doc, err := spec.ParseProject("belay.yaml", []byte(judgeYAML))
	if err != nil {
		t.Fatal(err)
	}
	return NewJudge(JudgeDeps{
		Source:  func(*spec.Analysis) (analysis.Source, error) { return src, nil },
		Project: func() (*spec.Project, error) { return doc, nil },
		Now:     src.now, Dir: dir,
	})
}

func canaryState(id string, step int) rollout.State {
	return rollout.State{Config: rollout.Config{ID: id, Service: "api", Environment: "production",
		New: target.Version{Version: "v2"}, Stable: &target.Version{Version: "v1"},
		Steps: []rollout.Step{{Weight: 10, MinDuration: time.Minute}, {Weight: 100}}}, Step: step, Phase: rollout.Canary}
}

func analyzerJSON(t *testing.T, j *Judge, id string, step int) string {
	t.Helper()
	b, err := json.Marshal(j.steps[stepKey(id, step)].a)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestJudgeResumesAfterRestart runs one judge through 30 ticks and another
// that is replaced by a fresh Judge on the same directory after 12: both end
// with the same analyzer (same e-values) and gave the same verdicts.
func TestJudgeResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	src := newSnapshots(30)
	ref := testJudge(t, src, "")
	dir := t.TempDir()
	restarted := testJudge(t, src, dir)
	st := canaryState("7", 0)
	for i := range 30 {
		src.tick = i
		if i == 12 {
			restarted = testJudge(t, src, dir) // the server restarted: nothing in memory
		}
		want, err := ref.Judge(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		got, err := restarted.Judge(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("tick %d: restarted judge says %+v, uninterrupted one %+v", i, got, want)
		}
	}
	if a, b := analyzerJSON(t, ref, "7", 0), analyzerJSON(t, restarted, "7", 0); a != b {
		t.Fatalf("analyzers differ after restart:\n%s\n%s", a, b)
	}
	if e := restarted.steps["7/0"].a.State.Errors; e.EValue() <= 1 {
		t.Fatalf("error e-value %v: the stream's 10x error rate should have raised it", e.EValue())
	}
	b, err := os.ReadFile(filepath.Join(dir, "7-0.json"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != analyzerJSON(t, restarted, "7", 0) {
		t.Fatal("the file does not hold the last tick's analyzer")
	}
}

// TestJudgeNewRolloutStartsFresh: a rollout the judge never saw starts its
// analysis, and steps and finished rollouts leave no files behind.
func TestJudgeNewRolloutStartsFresh(t *testing.T) {
	ctx := context.Background()
	src := newSnapshots(5)
	dir := t.TempDir()
	j := testJudge(t, src, dir)
	for i := range 3 {
		src.tick = i
		if _, err := j.Judge(ctx, canaryState("7", 0)); err != nil {
			t.Fatal(err)
		}
	}
	j = testJudge(t, src, dir)
	v, err := j.Judge(ctx, canaryState("8", 0))
	if err != nil {
		t.Fatal(err)
	}
	if v.Reason != "analysis started" {
		t.Fatalf("rollout 8 was never judged, got %q", v.Reason)
	}
	if got := j.steps["8/0"].a.State.Started; !got.Equal(src.now()) {
		t.Fatalf("rollout 8 started at %v, want now %v", got, src.now())
	}
	st := canaryState("7", 0)
	st.Steps = []rollout.Step{{Weight: 10}, {Weight: 50}, {Weight: 100}}
	st.Step = 1 // rollout 7 moved on: its step 0 file goes
	if _, err := j.Judge(ctx, st); err != nil {
		t.Fatal(err)
	}
	assertFiles(t, dir, "7-1.json", "8-0.json")
	j.Forget("8")
	assertFiles(t, dir, "7-1.json")
}

func assertFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
}

// counters is a metric source whose numbers the test sets.
type counters map[string]target.Counters

func (c counters) Counters(_ context.Context, q analysis.Query) ([]target.Counters, error) {
	var out []target.Counters
	for _, v := range q.Versions {
		if x, ok := c[v]; ok {
			out = append(out, x)
		}
	}
	return out, nil
}

// weightState is rollout 3 at a single step of weight, with or without a stable version.
func weightState(stable bool, weight float64) rollout.State {
	st := rollout.State{Config: rollout.Config{ID: "3", Service: "hello", Environment: "production",
		New: target.Version{Version: "v2"}, Steps: []rollout.Step{{Weight: weight, MinDuration: time.Second}}}}
	if stable {
		st.Stable = &target.Version{Version: "v1"}
	}
	return st
}

func TestJudgeWithoutComparison(t *testing.T) {
	p := hello(t)
	j := NewJudge(JudgeDeps{Source: fixed(counters{}), Project: func() (*spec.Project, error) { return p, nil }})
	for name, st := range map[string]rollout.State{"first release": weightState(false, 10), "all traffic": weightState(true, 100)} {
		v, err := j.Judge(context.Background(), st)
		if err != nil || v.Decision != analysis.Pass {
			t.Errorf("%s: %v %+v", name, err, v)
		}
	}
}

func TestJudgeFailsABadCanary(t *testing.T) {
	p := hello(t)
	now := time.Unix(1_700_000_000, 0)
	src := counters{}
	j := NewJudge(JudgeDeps{Source: fixed(src), Project: func() (*spec.Project, error) { return p, nil }, Now: func() time.Time { return now }})
	st := weightState(true, 10)
	var v analysis.Verdict
	for i := int64(1); i <= 60 && v.Decision != analysis.Fail; i++ {
		// 100 requests a second; stable 0.1 % errors, the canary 30 %.
		src["v1"] = target.Counters{Version: "v1", Requests: 90 * i, Errors: 90 * i / 1000, At: now}
		src["v2"] = target.Counters{Version: "v2", Requests: 10 * i, Errors: 3 * i, At: now}
		var err error
		if v, err = j.Judge(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	if v.Decision != analysis.Fail {
		t.Fatalf("a canary failing 30 %% of requests was not rolled back within 60 s: %+v", v)
	}
}

func fixed(src analysis.Source) func(*spec.Analysis) (analysis.Source, error) {
	return func(*spec.Analysis) (analysis.Source, error) { return src, nil }
}

// countingSource counts reads of the counters it serves.
type countingSource struct {
	analysis.Source
	reads int
}

func (c *countingSource) Counters(ctx context.Context, q analysis.Query) ([]target.Counters, error) {
	c.reads++
	return c.Source.Counters(ctx, q)
}

// TestJudgeSubSecondTicks: at the engine's 250 ms tick the builtin source is
// read every tick but the analyzer is written at most once a second, and a
// judge restarted from that file loses no evidence: the first tick after
// the restart takes the unsaved interval's increase as one batch.
func TestJudgeSubSecondTicks(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	s := replay.New(42, t0,
		replay.Arm{Version: "v2", Rate: 20, ErrorRate: 0.01, Median: 0.02, Sigma: 0.5},
		replay.Arm{Version: "v1", Rate: 180, ErrorRate: 0.001, Median: 0.02, Sigma: 0.5})
	src := &snapshots{}
	for range 40 {
		s.Advance(250 * time.Millisecond)
		src.at, src.cs = append(src.at, s.Now()), append(src.cs, s.Counters())
	}
	dir := t.TempDir()
	ref, j := testJudge(t, src, ""), testJudge(t, src, dir)
	st := canaryState("7", 0)
	file := filepath.Join(dir, "7-0.json")
	var saves int
	var lastFile []byte
	for i := range 40 {
		src.tick = i
		if i == 23 {
			j = testJudge(t, src, dir) // restart: the last 3 ticks were not written
		}
		for _, jj := range []*Judge{ref, j} {
			if _, err := jj.Judge(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != string(lastFile) {
			saves++
			lastFile = b
		}
	}
	if saves > 11 { // 10 s of ticks: the first tick and about one save a second
		t.Errorf("%d saves in 10 s of 250 ms ticks; want at most one a second", saves)
	}
	got, want := j.steps["7/0"].a.State, ref.steps["7/0"].a.State
	if !reflect.DeepEqual(got.Canary.Total, want.Canary.Total) || got.Stable.Total.Requests != want.Stable.Total.Requests {
		t.Fatalf("after the restart the judge counted canary %+v stable %d requests, the uninterrupted one %+v %d",
			got.Canary.Total, got.Stable.Total.Requests, want.Canary.Total, want.Stable.Total.Requests)
	}
	if g, w := got.Errors.EValue(), want.Errors.EValue(); w <= 1 || g < w/1.5 || g > w*1.5 {
		t.Fatalf("error e-value %v after the restart, %v without: the unsaved ticks' evidence was lost", g, w)
	}
}

// TestJudgeReadsPrometheusOncePerSecond: ticks closer than a second reuse the
// last verdict instead of asking Prometheus again.
func TestJudgeReadsPrometheusOncePerSecond(t *testing.T) {
	doc, err := spec.ParseProject("belay.yaml", []byte(judgeYAML+`
analysis:
  source: prometheus
  prometheus: {url: "http://127.0.0.1:9"}
`))
	if err != nil {
		t.Fatal(err)
	}
	snaps := newSnapshots(1)
	now := snaps.now()
	src := &countingSource{Source: snaps}
	j := NewJudge(JudgeDeps{Source: fixed(src), Project: func() (*spec.Project, error) { return doc, nil }, Now: func() time.Time { return now }})
	for range 12 { // 3 s of 250 ms ticks
		if _, err := j.Judge(context.Background(), canaryState("7", 0)); err != nil {
			t.Fatal(err)
		}
		now = now.Add(250 * time.Millisecond)
	}
	if src.reads != 3 {
		t.Fatalf("Prometheus read %d times in 3 s of 250 ms ticks, want 3", src.reads)
	}
}
