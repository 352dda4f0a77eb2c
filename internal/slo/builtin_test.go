package slo_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/slo"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/sqlite"
	"github.com/belay-dev/belay/internal/target"
)

// agentCounters is what the agent's Metrics ability answers, set by the test.
type agentCounters struct {
	mu sync.Mutex
	cs map[string][]target.Counters // env → versions
}

func (a *agentCounters) Counters(_ context.Context, env, service string) ([]target.Counters, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]target.Counters(nil), a.cs[env]...), nil
}

func (a *agentCounters) set(env string, cs ...target.Counters) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cs[env] = cs
}

const project = `services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: [error_rate > 50% for 5m]
    rollback_action: deploy previous_stable
    slo: {objective: 99%, window: 3d}
environments:
  - name: staging
  - name: production
`

func openStore(t *testing.T) store.Store {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "state.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSamplerKeepsIncreasesAcrossResets: increases are stored per minute,
// counter resets (an agent restart) count the new value, the first reading
// is a baseline, and a new sampler (a server restart) reads the stored
// windows back.
func TestSamplerKeepsIncreasesAcrossResets(t *testing.T) {
	doc, err := spec.Parse("belay.yaml", []byte(project))
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	now := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	agent := &agentCounters{cs: map[string][]target.Counters{}}
	newSampler := func() *slo.Sampler {
		return &slo.Sampler{Metrics: agent, Store: st, Project: func() (*spec.Project, error) { return doc.Project, nil }, Now: func() time.Time { return now }}
	}
	s := newSampler()
	step := func(d time.Duration) {
		t.Helper()
		now = now.Add(d)
		if err := s.Sample(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	agent.set("production", target.Counters{Version: "v1", Requests: 5000, Errors: 50}) // before belay looked: not counted
	step(0)
	agent.set("production", target.Counters{Version: "v1", Requests: 6000, Errors: 60}, target.Counters{Version: "v2", Requests: 100, Errors: 40})
	step(time.Minute) // +1000/+10 of v1, v2 new: +100/+40
	agent.set("production", target.Counters{Version: "v1", Requests: 300, Errors: 3}, target.Counters{Version: "v2", Requests: 20, Errors: 20})
	step(time.Minute) // the agent restarted: +300/+3 and +20/+20
	agent.set("production", target.Counters{Version: "v1", Requests: 400, Errors: 3}, target.Counters{Version: "v2", Requests: 20, Errors: 20})
	s = newSampler() // the server restarted: a baseline, the stored windows stay
	step(time.Minute)

	r := slo.Samples{Store: st, Now: func() time.Time { return now }}
	c, ok, err := r.Counts(context.Background(), "production", "api", time.Hour)
	if err != nil || !ok {
		t.Fatalf("counts: %v %v", ok, err)
	}
	if c.Requests != 1420 || c.Errors != 73 {
		t.Errorf("1h: %v requests, %v errors; want 1420 and 73", c.Requests, c.Errors)
	}
	// staging answered zero requests all along: known, nothing burnt
	if c, ok, _ := r.Counts(context.Background(), "staging", "api", time.Hour); !ok || c.Requests != 0 {
		t.Errorf("staging: %+v known %v; want 0 requests, known", c, ok)
	}
	rep, err := slo.Judge(context.Background(), r, "production", "api", slo.Objective{Objective: 0.99, Window: 72 * time.Hour}, slo.Pairs)
	if err != nil {
		t.Fatal(err)
	}
	// 73/1420 = 5.1 % errors: burn 5.14 against 1 %, every window
	if rep.Status != slo.StatusPage || math.Abs(*rep.Pairs[0].LongBurn-73.0/1420/0.01) > 1e-9 {
		t.Errorf("status %s, 1h burn %v; want page at %v", rep.Status, *rep.Pairs[0].LongBurn, 73.0/1420/0.01)
	}
	// pruning keeps the SLO window (3d) and drops what is older
	now = now.Add(72*time.Hour + 2*time.Minute)
	agent.set("production", target.Counters{Version: "v1", Requests: 500, Errors: 3}, target.Counters{Version: "v2", Requests: 20, Errors: 20})
	if err := s.Sample(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := r.Counts(context.Background(), "production", "api", 30*24*time.Hour); c.Requests != 100 {
		t.Errorf("after 3 days: %v requests kept, want 100 (the last reading's)", c.Requests)
	}
}

type downAgent struct{ err error }

func (d *downAgent) Counters(context.Context, string, string) ([]target.Counters, error) {
	return nil, d.err
}

// countHandler counts log records by level.
type countHandler struct {
	mu sync.Mutex
	n  map[slog.Level]int
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n[r.Level]++
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

// TestSamplerLogsAnOutageOnce: counters the agent cannot give are no
// samples (no data), logged when they go and when they come back, not at
// every sample.
func TestSamplerLogsAnOutageOnce(t *testing.T) {
	doc, err := spec.Parse("belay.yaml", []byte(project))
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	agent := &downAgent{err: errors.New("no service api in production")}
	h := &countHandler{n: map[slog.Level]int{}}
	now := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	s := &slo.Sampler{Metrics: agent, Store: st, Project: func() (*spec.Project, error) { return doc.Project, nil },
		Now: func() time.Time { return now }, Logger: slog.New(h)}
	for range 5 {
		if err := s.Sample(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := (slo.Samples{Store: st, Now: func() time.Time { return now }}).Counts(context.Background(), "production", "api", time.Hour); ok {
		t.Error("an unavailable service has samples")
	}
	if h.n[slog.LevelWarn] != 2 { // one per environment
		t.Errorf("%d warnings after 5 samples of 2 environments, want 2", h.n[slog.LevelWarn])
	}
	agent.err = nil
	if err := s.Sample(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h.n[slog.LevelInfo] != 2 {
		t.Errorf("%d notes of counters back, want 2", h.n[slog.LevelInfo])
	}
}

// TestSamplersShareByLease: two servers' samplers on one store, each asking
// the store's lease before a reading; only the holder samples, so requests
// are counted once; when it gives the lease up the other takes over from a
// new baseline, counting what follows once.
func TestSamplersShareByLease(t *testing.T) {
	doc, err := spec.Parse("belay.yaml", []byte(project))
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	now := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	agent := &agentCounters{cs: map[string][]target.Counters{}}
	sampler := func(holder string) *slo.Sampler {
		return &slo.Sampler{Metrics: agent, Store: st, Project: func() (*spec.Project, error) { return doc.Project, nil },
			Now: func() time.Time { return now },
			Hold: func(ctx context.Context) (bool, error) {
				_, held, err := st.AcquireLease(ctx, "slo-sampler", holder, 30*time.Second, now)
				return held, err
			}}
	}
	a, b := sampler("a"), sampler("b")
	tick := func(reqs, errs int64) {
		t.Helper()
		now = now.Add(10 * time.Second)
		agent.set("production", target.Counters{Version: "v1", Requests: reqs, Errors: errs})
		for _, s := range []*slo.Sampler{a, b} {
			if err := s.Tick(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	tick(1000, 10) // a takes the lease: a baseline
	tick(1100, 11)
	tick(1300, 13) // +300/+3 counted by a alone
	if err := st.ReleaseLease(context.Background(), "slo-sampler", "a"); err != nil {
		t.Fatal(err)
	}
	a.Hold = func(context.Context) (bool, error) { return false, nil } // a stopped
	tick(1400, 14)                                                     // b takes over: a baseline
	tick(1600, 16)                                                     // +200/+2 counted by b
	r := slo.Samples{Store: st, Now: func() time.Time { return now }}
	c, ok, err := r.Counts(context.Background(), "production", "api", time.Hour)
	if err != nil || !ok {
		t.Fatalf("counts: %v %v", ok, err)
	}
	if c.Requests != 500 || c.Errors != 5 {
		t.Errorf("1h: %v requests, %v errors; want 500 and 5 (each counted once; 100 lost at the handover)", c.Requests, c.Errors)
	}
}
