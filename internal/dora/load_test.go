package dora_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/dora"
	"github.com/belay-dev/belay/internal/orchestrate"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/rollout/rollouttest"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/open"
)

// project: staging takes a release at once, production by a two-step
// canary with no watch, so each release's path is short and its times
// follow from the clock.
const project = `project: shop
services:
  api:
    build: {command: "true", outputs: [bin/api]}
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout:
      strategy: canary
      steps:
        - {weight: 50%, min_duration: 10s}
        - {weight: 100%, min_duration: 10s}
    rollback_trigger:
      - error_rate > 1% for 30s
    rollback_action: deploy previous_stable
    environments:
      staging:
        rollout: {strategy: all_at_once}
environments:
  - name: staging
    listen: 127.0.0.1:18081
  - name: production
    listen: 127.0.0.1:18082
`

// artifacts verifies every version as digest sha256:<version>.
type artifacts struct{}

func (artifacts) Verify(_ context.Context, v string) (string, error) { return "sha256:" + v, nil }
func (artifacts) Open(context.Context, string) (string, error)       { return os.TempDir(), nil }
func (artifacts) Refs(context.Context, string) ([]string, error)     { return nil, nil }

// harness drives an orchestrator on a real SQLite store, an in-memory
// target and a scripted judge, on a clock that moves 5 s a tick (as
// internal/orchestrate's own harness does).
type harness struct {
	t   *testing.T
	ctx context.Context
	st  store.Store
	o   *orchestrate.Orchestrator

	mu   sync.Mutex
	now  time.Time
	fail string // the version the judge fails in production
}

func newHarness(t *testing.T) *harness {
	dir := t.TempDir()
	file := filepath.Join(dir, "belay.yaml")
	if err := os.WriteFile(file, []byte(project), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: context.Background(), now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	var err error
	if h.st, err = open.Open(h.ctx, "", filepath.Join(dir, ".belay"), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.st.Close() })
	h.o, err = orchestrate.New(orchestrate.Deps{
		Store: h.st, Target: rollouttest.NewTarget(), Artifacts: artifacts{},
		Judge: rollout.JudgeFunc(func(_ context.Context, s rollout.State) (analysis.Verdict, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			d := analysis.Pass
			if s.New.Version == h.fail && s.Environment == "production" {
				d = analysis.Fail
			}
			return analysis.Verdict{Decision: d, Reason: "scripted", At: h.now}, nil
		}),
		Project: func() (*spec.Project, error) { return spec.Load(file) },
		Now:     h.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) wait(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

// until ticks until ok, at most 200 times.
func (h *harness) until(what string, ok func() bool) {
	h.t.Helper()
	for range 200 {
		if ok() {
			return
		}
		h.wait(5 * time.Second)
		if err := h.o.Tick(h.ctx); err != nil {
			h.t.Fatal(err)
		}
	}
	h.t.Fatalf("%s: not after 200 ticks", what)
}

// release records version's artifact, built an hour before now from a
// commit made three hours before now (api-v1 is recorded as before belay
// kept commit times: without one), and releases it to the end.
func (h *harness) release(version string) {
	h.t.Helper()
	a := store.Artifact{Digest: "sha256:" + version, Version: version, Service: "api", Commit: "c0ffee", BuiltAt: h.clock().Add(-time.Hour)}
	if version != "api-v1" {
		a.CommittedAt = h.clock().Add(-3 * time.Hour)
	}
	if err := h.st.RecordArtifact(h.ctx, a); err != nil {
		h.t.Fatal(err)
	}
	ans, err := h.o.Release(h.ctx, api.ReleaseRequest{Service: "api", Version: version, Owner: "ann"})
	if err != nil {
		h.t.Fatal(err)
	}
	h.until("release of "+version, func() bool {
		v, err := h.o.ReleaseView(h.ctx, ans.Release)
		return err == nil && v.Done
	})
}

// TestFiguresOfReleasesDrivenThroughTheOrchestrator: four releases, one
// rolled back by its canary analysis and one rolled back by `belay rollback`
// afterwards, read back from SQLite.
func TestFiguresOfReleasesDrivenThroughTheOrchestrator(t *testing.T) {
	h := newHarness(t)
	start := h.clock()
	h.release("api-v1")
	h.wait(time.Hour)
	h.release("api-v2")
	h.wait(time.Hour)
	ans, err := h.o.Rollback(h.ctx, api.RollbackRequest{Service: "api", CommandRequest: api.CommandRequest{Actor: "ann", Reason: "500s", Env: "production"}})
	if err != nil {
		t.Fatal(err)
	}
	h.until("rollback", func() bool {
		r, err := h.st.GetRollout(h.ctx, ans.Rollout)
		return err == nil && r.Terminal
	})
	h.wait(time.Hour)
	h.mu.Lock()
	h.fail = "api-v3"
	h.mu.Unlock()
	h.release("api-v3")
	h.wait(time.Hour)
	h.release("api-v4")

	end := h.clock()
	rs, err := dora.Load(h.ctx, h.st, "api", "production", start)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]dora.Rollout{}
	for _, r := range rs {
		byID[r.ID] = r
		// Load takes a finished rollout's UpdatedAt as its end: it must be
		// the time of the transition into its last phase.
		ts, err := h.st.Transitions(h.ctx, r.ID)
		if err != nil || len(ts) == 0 || ts[len(ts)-1].At != r.Ended || ts[len(ts)-1].To != string(r.Phase) {
			t.Errorf("rollout %d ended %s at %s; its transitions say %+v (%v)", r.ID, r.Phase, r.Ended, ts, err)
		}
	}
	versions := func(ids []int64) []string {
		var out []string
		for _, id := range ids {
			r := byID[id]
			out = append(out, fmt.Sprintf("%s %s manual=%t", r.Version, r.Phase, r.Manual))
		}
		return out
	}

	f := dora.Compute(rs, start, end)
	// Built an hour before its release, each took 30 s to reach production
	// and be promoted there.
	// From the commit (v2, v4: 3h before the release), from the build for v1.
	if f.Deployments != 3 || f.LeadTime != (dora.Durations{N: 3, Median: 3*time.Hour + 30*time.Second, P90: 3*time.Hour + 30*time.Second}) {
		t.Errorf("deployments %d, lead time %+v; want 3 (v1, v2, v4), median and p90 3h0m30s", f.Deployments, f.LeadTime)
	}
	if got, want := versions(f.FailedRollouts), []string{"api-v2 Succeeded manual=false", "api-v3 RolledBack manual=false"}; f.Changes != 4 ||
		f.FailureRate == nil || *f.FailureRate != 0.5 || !slices.Equal(got, want) {
		t.Errorf("change failures %d of %d: %q; want 2 of 4: %q", f.Failures, f.Changes, got, want)
	}
	// The rollback rollout took one tick (5 s); v3's production rollout
	// went bad and was rolled back within one tick (the in-memory target
	// is instant), so it restored in 0 s.
	if got, want := versions(f.Restores), []string{"api-v2 RolledBack manual=true", "api-v3 RolledBack manual=false"}; !slices.Equal(got, want) ||
		f.TimeToRestore != (dora.Durations{N: 2, Median: 2500 * time.Millisecond, P90: 4500 * time.Millisecond}) {
		t.Errorf("restores %q in %+v; want %q, median 2.5s", got, f.TimeToRestore, want)
	}

	// From 11:30 the window holds v3 and v4 and the `belay rollback`, but
	// not the deployment of v2 that it rolled back.
	from := start.Add(90 * time.Minute)
	if rs, err = dora.Load(h.ctx, h.st, "api", "production", from); err != nil {
		t.Fatal(err)
	}
	if f := dora.Compute(rs, from, end); f.Deployments != 1 || f.Changes != 2 || f.Failures != 1 || f.TimeToRestore.N != 2 {
		t.Errorf("from 11:30: %d deployments, %d failures of %d changes, %d restores; want 1, 1 of 2, 2", f.Deployments, f.Failures, f.Changes, f.TimeToRestore.N)
	}
	// Staging took all four at once; nothing failed there.
	if rs, err = dora.Load(h.ctx, h.st, "", "staging", start); err != nil {
		t.Fatal(err)
	}
	if f := dora.Compute(rs, start, end); f.Deployments != 4 || f.Failures != 0 || f.FailureRate == nil || *f.FailureRate != 0 {
		t.Errorf("staging: %d deployments, %d failures, rate %v; want 4, 0, 0", f.Deployments, f.Failures, f.FailureRate)
	}
}
