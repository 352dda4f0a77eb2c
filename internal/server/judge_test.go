package server

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/replay"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
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

// memStates is an in-memory store.Analyses: an honest fake of the store's
// table of analysis states, keyed by rollout and step.
type memStates struct {
	mu    sync.Mutex
	rows  map[[2]int64]json.RawMessage
	saves int
}

var _ store.Analyses = (*memStates)(nil)

func (m *memStates) SaveAnalysis(_ context.Context, rolloutID int64, step int, state json.RawMessage, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rows == nil {
		m.rows = map[[2]int64]json.RawMessage{}
	}
	m.rows[[2]int64{rolloutID, int64(step)}] = slices.Clone(state)
	m.saves++
	return nil
}

func (m *memStates) LoadAnalysis(_ context.Context, rolloutID int64, step int) (json.RawMessage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.rows[[2]int64{rolloutID, int64(step)}]
	if !ok {
		return nil, fmt.Errorf("%w: analysis of rollout %d step %d", store.ErrNotFound, rolloutID, step)
	}
	return slices.Clone(b), nil
}

func (m *memStates) DeleteAnalyses(_ context.Context, rolloutID int64, keep int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.rows {
		if k[0] == rolloutID && k[1] != int64(keep) {
			delete(m.rows, k)
		}
	}
	return nil
}

// keys lists the stored states as "rollout/step", sorted.
func (m *memStates) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.rows {
		out = append(out, fmt.Sprintf("%d/%d", k[0], k[1]))
	}
	slices.Sort(out)
	return out
}

func (m *memStates) get(rolloutID int64, step int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return string(m.rows[[2]int64{rolloutID, int64(step)}])
}

func project(t *testing.T, yaml string) *spec.Project {
	t.Helper()
	doc, err := spec.ParseProject("belay.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func testJudge(t *testing.T, src *snapshots, states store.Analyses) *Judge {
	t.Helper()
	doc := project(t, judgeYAML)
	return NewJudge(JudgeDeps{
		Source:  func(*spec.Analysis) (analysis.Source, error) { return src, nil },
		Project: func() (*spec.Project, error) { return doc, nil },
		Now:     src.now, States: states,
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
// that is replaced by a fresh Judge on the same store after 12: both end
// with the same analyzer (same e-values) and gave the same verdicts.
func TestJudgeResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	src := newSnapshots(30)
	ref := testJudge(t, src, nil)
	states := &memStates{}
	restarted := testJudge(t, src, states)
	st := canaryState("7", 0)
	for i := range 30 {
		src.tick = i
		if i == 12 {
			restarted = testJudge(t, src, states) // the server restarted: nothing in memory
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
	if states.get(7, 0) != analyzerJSON(t, restarted, "7", 0) {
		t.Fatal("the store does not hold the last tick's analyzer")
	}
}

// TestJudgeNewRolloutStartsFresh: a rollout the judge never saw starts its
// analysis, and steps and finished rollouts leave no states behind.
func TestJudgeNewRolloutStartsFresh(t *testing.T) {
	ctx := context.Background()
	src := newSnapshots(5)
	states := &memStates{}
	j := testJudge(t, src, states)
	for i := range 3 {
		src.tick = i
		if _, err := j.Judge(ctx, canaryState("7", 0)); err != nil {
			t.Fatal(err)
		}
	}
	j = testJudge(t, src, states)
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
	st.Step = 1 // rollout 7 moved on: its step 0 state goes
	if _, err := j.Judge(ctx, st); err != nil {
		t.Fatal(err)
	}
	assertStates(t, states, "7/1", "8/0")
	j.Forget("8")
	assertStates(t, states, "7/1")
}

// TestJudgeIgnoresAnotherRolloutsState: a stored state of other versions
// under the same rollout ID (a store that was reset) is not resumed.
func TestJudgeIgnoresAnotherRolloutsState(t *testing.T) {
	ctx := context.Background()
	src := newSnapshots(5)
	states := &memStates{}
	j := testJudge(t, src, states)
	other := canaryState("7", 0)
	other.New.Version = "v0"
	for i := range 3 {
		src.tick = i
		if _, err := j.Judge(ctx, other); err != nil {
			t.Fatal(err)
		}
	}
	v, err := testJudge(t, src, states).Judge(ctx, canaryState("7", 0))
	if err != nil || v.Reason != "analysis started" {
		t.Fatalf("%v %+v, want a fresh analysis", err, v)
	}
}

func assertStates(t *testing.T, states *memStates, want ...string) {
	t.Helper()
	if got := states.keys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("stored states %v, want %v", got, want)
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

// helloYAML is the demo service's analysis (examples/hello/belay.yaml):
// its triggers, steps and min_requests.
const helloYAML = `
services:
  hello:
    run: {command: bin/hello}
    health_check: {http: {path: /healthz}}
    rollout:
      strategy: canary
      steps: [{weight: 10%, min_duration: 5s}, {weight: 50%, min_duration: 5s}, {weight: 100%}]
    rollback_trigger: ["error_rate > 1% for 5s", "p95_latency > 500ms for 10s", "health_check_failures > 3"]
    rollback_action: deploy previous_stable
    analysis: {alpha: 0.01, min_requests: 50, min_effect: 20, source: builtin}
environments:
  - name: production
`

// helloState is rollout 3 of v3 at step (0-based) in phase, after v2 or
// as the first release.
func helloState(stable bool, step int, phase rollout.Phase) rollout.State {
	st := rollout.State{Config: rollout.Config{ID: "3", Service: "hello", Environment: "production",
		New: target.Version{Version: "v3"}, Steps: []rollout.Step{{Weight: 10, MinDuration: 5 * time.Second}, {Weight: 50, MinDuration: 5 * time.Second}, {Weight: 100}}},
		Step: step, Phase: phase}
	if stable {
		st.Stable = &target.Version{Version: "v2"}
	}
	return st
}

// stream serves a replayed stream's counters as the agent does: every
// version of the service, cumulative.
type stream struct{ *replay.Stream }

func (s stream) Counters(context.Context, analysis.Query) ([]target.Counters, error) {
	return s.Stream.Counters(), nil
}

// traffic is production at rps requests a second, weight percent of them to
// v3 failing errorRate of them, the rest to v2 (when there is one).
func traffic(rps, weight, errorRate float64, stable bool) *replay.Stream {
	arms := []replay.Arm{{Version: "v3", Rate: rps * weight / 100, ErrorRate: errorRate, Median: 0.01, Sigma: 0.4}}
	if stable {
		arms = append(arms, replay.Arm{Version: "v2", Rate: rps * (1 - weight/100), ErrorRate: 0.001, Median: 0.01, Sigma: 0.4})
	}
	return replay.New(5, time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC), arms...)
}

func helloJudge(t *testing.T, p *spec.Project, s *replay.Stream, states store.Analyses) *Judge {
	return NewJudge(JudgeDeps{Source: fixed(stream{s}), Project: func() (*spec.Project, error) { return p, nil }, Now: s.Now, States: states})
}

// judgeUntil asks j about st at the engine's 250 ms ticks until a decision
// other than Continue or until limit, returning it and when it came.
func judgeUntil(t *testing.T, j *Judge, st rollout.State, s *replay.Stream, limit time.Duration) (analysis.Verdict, time.Duration) {
	t.Helper()
	t0 := s.Now()
	for {
		v, err := j.Judge(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		if v.Decision != analysis.Continue || s.Now().Sub(t0) >= limit {
			return v, s.Now().Sub(t0)
		}
		s.Advance(250 * time.Millisecond)
	}
}

func evidenceOf(t *testing.T, v analysis.Verdict, check string) analysis.Evidence {
	t.Helper()
	for _, e := range v.Evidence {
		if e.Check == check {
			return e
		}
	}
	t.Fatalf("no evidence for %q in %+v", check, v.Evidence)
	return analysis.Evidence{}
}

// TestJudgeTriggersWithoutComparison: on a first release, at the 100 % step,
// with analysis.test: none and in the watch, the triggers judge alone. A
// healthy v3 passes at the step's minimum duration (the watch continues);
// a v3 failing 6.5 % of requests is rolled back by "error_rate > 1% for 5s"
// 5 s after its first data, the verdict saved at once with its numbers.
func TestJudgeTriggersWithoutComparison(t *testing.T) {
	testNone := project(t, helloYAML)
	testNone.Service("hello").Analysis.Test = spec.TestNone
	for _, c := range []struct {
		name   string
		p      *spec.Project
		st     rollout.State
		weight float64
	}{
		{"first release", project(t, helloYAML), helloState(false, 0, rollout.Canary), 10},
		{"all traffic", project(t, helloYAML), helloState(true, 2, rollout.Canary), 100},
		{"test none", testNone, helloState(true, 0, rollout.Canary), 10},
		{"watching", project(t, helloYAML), helloState(true, 2, rollout.Watching), 100},
	} {
		s := traffic(150, c.weight, 0.001, c.st.Stable != nil)
		v, at := judgeUntil(t, helloJudge(t, c.p, s, nil), c.st, s, time.Minute)
		// The first tick starts the analysis; a step without a minimum passes at the next.
		want, wantAt := analysis.Pass, max(c.st.Steps[c.st.Step].MinDuration, 250*time.Millisecond)
		if c.st.Phase == rollout.Watching {
			want, wantAt = analysis.Continue, time.Minute
		}
		if v.Decision != want || at != wantAt {
			t.Errorf("%s, healthy: %s after %v: %q, want %s after %v", c.name, v.Decision, at, v.Reason, want, wantAt)
		}
		states := &memStates{}
		s = traffic(150, c.weight, 0.065, c.st.Stable != nil)
		j := helloJudge(t, c.p, s, states)
		if v, at = judgeUntil(t, j, c.st, s, time.Minute); v.Decision != analysis.Fail || v.Trigger != "error_rate > 1% for 5s" || at > 7*time.Second {
			t.Errorf("%s, 6.5 %% errors: %s after %v: %q, want the trigger to fire", c.name, v.Decision, at, v.Reason)
			continue
		}
		if e := evidenceOf(t, v, "error_rate > 1% for 5s"); e.State != analysis.StateFiring || e.Canary < 0.02 || e.CanaryN < 10 ||
			!strings.Contains(v.Reason, fmt.Sprintf("(%d requests)", e.CanaryN)) {
			t.Errorf("%s: evidence %+v, reason %q", c.name, e, v.Reason)
		}
		at0, _ := stepOf(c.st)
		if got := states.get(3, at0.index); !strings.Contains(got, `"final":{"decision":"fail"`) {
			t.Errorf("%s: the failing verdict was not saved at once: %.200s", c.name, got)
		}
	}
}

// TestJudgeWatchingHasItsOwnState: the watch's analyzer is keyed past the
// last step, so its trigger windows start afresh, and the last step's state goes.
func TestJudgeWatchingHasItsOwnState(t *testing.T) {
	p, states := project(t, helloYAML), &memStates{}
	s := traffic(150, 100, 0.001, true)
	j := helloJudge(t, p, s, states)
	last := helloState(true, 2, rollout.Canary)
	if v, _ := judgeUntil(t, j, last, s, time.Minute); v.Decision != analysis.Pass {
		t.Fatalf("100 %% step: %s %q", v.Decision, v.Reason)
	}
	assertStates(t, states, "3/2")
	watch := helloState(true, 2, rollout.Watching)
	v, err := j.Judge(context.Background(), watch)
	if err != nil || v.Reason != "analysis started" {
		t.Fatalf("the watch resumed the last step's analyzer: %v %+v", err, v)
	}
	assertStates(t, states, "3/3")
}

// TestJudgeTriggerSeesTheCanaryBelowMinRequests is the no_data bug:
// analysis.min_requests (canary traffic before a promotion) used to be the
// requests a trigger needed inside one 1 m window. The demo's 6.5 % canary
// at 15 req/s was rolled back by the comparison while its trigger still
// said "no_data, canary 0"; a canary under min_requests a minute never
// gave its triggers data at all.
func TestJudgeTriggerSeesTheCanaryBelowMinRequests(t *testing.T) {
	const rule = "error_rate > 1% for 5s"
	s := traffic(100, 10, 0.065, true)
	v, at := judgeUntil(t, helloJudge(t, project(t, helloYAML), s, nil), helloState(true, 0, rollout.Canary), s, time.Minute)
	if v.Decision != analysis.Fail || v.Trigger != "sequential:errors" {
		t.Fatalf("%s after %v: %q, want the comparison to roll back", v.Decision, at, v.Reason)
	}
	if e := evidenceOf(t, v, rule); e.State != analysis.StatePending || e.Canary <= 0.01 || e.CanaryN == 0 {
		t.Errorf("when the comparison rolled back after %v the trigger said %+v, want the canary's rate and requests", at, e)
	}
	// A first release at 10 % of 10 req/s for a minute: 60 canary requests
	// a minute, under the default min_requests of 100.
	p := project(t, strings.Replace(helloYAML, "min_requests: 50", "min_requests: 100", 1))
	s = traffic(10, 10, 0.065, false)
	st := helloState(false, 0, rollout.Canary)
	st.Steps[0].MinDuration = time.Minute
	v, at = judgeUntil(t, helloJudge(t, p, s, nil), st, s, 2*time.Minute)
	if v.Decision != analysis.Fail || v.Trigger != rule || at > 30*time.Second {
		t.Fatalf("1 req/s canary: %s after %v: %q, want %q to fire", v.Decision, at, v.Reason, rule)
	}
}

func TestJudgeFailsABadCanary(t *testing.T) {
	p := project(t, helloYAML)
	now := time.Unix(1_700_000_000, 0)
	src := counters{}
	j := NewJudge(JudgeDeps{Source: fixed(src), Project: func() (*spec.Project, error) { return p, nil }, Now: func() time.Time { return now }})
	st := helloState(true, 0, rollout.Canary)
	var v analysis.Verdict
	for i := int64(1); i <= 60 && v.Decision != analysis.Fail; i++ {
		// 100 requests a second; stable 0.1 % errors, the canary 30 %.
		src["v2"] = target.Counters{Version: "v2", Requests: 90 * i, Errors: 90 * i / 1000, At: now}
		src["v3"] = target.Counters{Version: "v3", Requests: 10 * i, Errors: 3 * i, At: now}
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
// judge restarted from that state loses no evidence: the first tick after
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
	states := &memStates{}
	ref, j := testJudge(t, src, nil), testJudge(t, src, states)
	st := canaryState("7", 0)
	for i := range 40 {
		src.tick = i
		if i == 23 {
			j = testJudge(t, src, states) // restart: the last 3 ticks were not written
		}
		for _, jj := range []*Judge{ref, j} {
			if _, err := jj.Judge(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
	}
	if states.saves > 11 { // 10 s of ticks: the first tick and about one save a second
		t.Errorf("%d saves in 10 s of 250 ms ticks; want at most one a second", states.saves)
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
