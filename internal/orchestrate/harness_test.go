package orchestrate

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/rollout/rollouttest"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/open"
)

// project is a two-environment belay.yaml; %s is extra environment settings
// for staging (e.g. on_rejected_downstream).
const project = `project: shop
services:
  api:
    build: {command: "true", outputs: [bin/api]}
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout:
      strategy: canary
      steps:
        - {weight: 50%%, min_duration: 10s}
        - {weight: 100%%, min_duration: 10s}
    rollback_trigger:
      - error_rate > 1%% for 30s
    rollback_action: deploy previous_stable
    environments:
      staging:
        rollout: {strategy: all_at_once}
      production:
        rollout:
          strategy: canary
          steps:
            - {weight: 50%%, min_duration: 10s}
            - {weight: 100%%, min_duration: 10s}
          watch: 2m
environments:
  - name: staging
    listen: 127.0.0.1:18081
%s  - name: production
    listen: 127.0.0.1:18082
`

// artifacts verifies the versions it was given (digest sha256:<version>),
// as an artifact store holding those builds would, with the git refs their
// provenance records.
type artifacts struct {
	known map[string]bool
	refs  map[string][]string // by version
	dirs  map[string]string   // the unpacked tree by digest; none: an empty one
}

func (a artifacts) Verify(_ context.Context, v string) (string, error) {
	if !a.known[v] {
		return "", fmt.Errorf("artifact %s not found", v)
	}
	return "sha256:" + v, nil
}

func (a artifacts) Open(_ context.Context, ref string) (string, error) {
	if d, ok := a.dirs[ref]; ok {
		return d, nil
	}
	return os.TempDir(), nil
}

func (a artifacts) Refs(_ context.Context, ref string) ([]string, error) {
	v := strings.TrimPrefix(ref, "sha256:")
	if !a.known[v] {
		return nil, fmt.Errorf("artifact %s not found", ref)
	}
	return a.refs[v], nil
}

// harness runs an orchestrator on a real SQLite store, with an honest
// in-memory target and a scripted judge, on a clock the test moves.
type harness struct {
	t      *testing.T
	ctx    context.Context
	st     store.Store
	target *rollouttest.Target
	o      *Orchestrator
	file   string              // belay.yaml, read at every use
	refs   map[string][]string // the refs each version was built from; none unless a test says
	dirs   map[string]string   // each digest's unpacked tree, when a test gives one

	mu      sync.Mutex
	now     time.Time
	verdict func(s rollout.State) analysis.Decision
}

func newHarness(t *testing.T, stagingExtra string) *harness {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "belay.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(project, stagingExtra)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := open.Open(ctx, "", filepath.Join(dir, ".belay"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, ctx: ctx, st: st, file: file, refs: map[string][]string{}, dirs: map[string]string{}, target: rollouttest.NewTarget(), now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		verdict: func(rollout.State) analysis.Decision { return analysis.Pass }}
	known := map[string]bool{}
	for _, v := range []string{"api-v1", "api-v2", "api-v3", "api-v4"} {
		known[v] = true
	}
	h.o, err = New(Deps{
		Store: st, Target: h.target, Artifacts: artifacts{known, h.refs, h.dirs},
		Judge: rollout.JudgeFunc(func(_ context.Context, s rollout.State) (analysis.Verdict, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			return analysis.Verdict{Decision: h.verdict(s), Reason: "scripted", At: h.now}, nil
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

func (h *harness) judge(f func(s rollout.State) analysis.Decision) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.verdict = f
}

// tick moves the clock by 5 s and drives everything once.
func (h *harness) tick() {
	h.t.Helper()
	h.mu.Lock()
	h.now = h.now.Add(5 * time.Second)
	h.mu.Unlock()
	if err := h.o.Tick(h.ctx); err != nil {
		h.t.Fatal(err)
	}
}

// until ticks until ok, at most n times.
func (h *harness) until(what string, n int, ok func() bool) {
	h.t.Helper()
	for range n {
		if ok() {
			return
		}
		h.tick()
	}
	if !ok() {
		h.t.Fatalf("%s: not after %d ticks", what, n)
	}
}

func (h *harness) release(version string) api.ReleaseAnswer {
	h.t.Helper()
	ans, err := h.o.Release(h.ctx, api.ReleaseRequest{Service: "api", Version: version, Owner: "ann"})
	if err != nil {
		h.t.Fatal(err)
	}
	return ans
}

func (h *harness) releaseView(id int64) api.ReleaseView {
	h.t.Helper()
	v, err := h.o.ReleaseView(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

// settled waits until release id is done.
func (h *harness) settled(id int64) api.ReleaseView {
	h.t.Helper()
	var v api.ReleaseView
	h.until(fmt.Sprintf("release %d done", id), 200, func() bool { v = h.releaseView(id); return v.Done })
	return v
}

func (h *harness) stable(env string) string {
	h.t.Helper()
	s, err := h.st.Stable(h.ctx, "api", env)
	if err != nil {
		return ""
	}
	return s.Version
}

func (h *harness) weights(env string) string {
	w := h.target.Weights(env, "api")
	var parts []string
	for _, v := range []string{"api-v1", "api-v2", "api-v3", "api-v4"} {
		if x, ok := w[v]; ok {
			parts = append(parts, fmt.Sprintf("%s=%g", v, x))
		}
	}
	return strings.Join(parts, ",")
}
