package rollout_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/rollout/rollouttest"
	"github.com/belay-dev/belay/internal/target"
)

// clock is a fake clock the tests advance; honest, since the engine takes time as a parameter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// events are what the committed transitions emitted, in order.
func (h *harness) events() []event.Event { return h.store.Events() }

func (h *harness) kinds() []string {
	var out []string
	for _, e := range h.events() {
		out = append(out, e.Event)
	}
	return out
}

// stables are the stable versions committed transitions set ("env:version").
func (h *harness) stables() []string { return h.store.Stables() }

// harness wires an engine to fakes; newEngine makes a fresh engine over the
// same store and target, as a restarted server would.
type harness struct {
	t      testing.TB
	store  *rollouttest.Store
	target *rollouttest.Target
	clock  *clock
	eng    *rollout.Engine

	mu       sync.Mutex
	verdict  func(s rollout.State) analysis.Decision
	smokeErr error
	hookErr  error
	hookRuns int
	judged   int
	// smokeStarted, when set, receives once smoke tests start, which then
	// wait for smokeGate.
	smokeStarted chan struct{}
	smokeGate    chan struct{}
	// flags records a rollback's flag changes, each with how many desired
	// states the target had been given by then; flagErr fails them.
	flags   []string
	flagErr error
}

func (h *harness) SetFlag(_ context.Context, s rollout.State, c rollout.FlagChange) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.flags = append(h.flags, fmt.Sprintf("%s after %d applies", c, len(h.target.Applied())))
	return h.flagErr
}

func newHarness(t testing.TB) *harness {
	h := &harness{
		t: t, store: rollouttest.NewStore(), target: rollouttest.NewTarget(),
		clock:   &clock{t: time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)},
		verdict: func(rollout.State) analysis.Decision { return analysis.Pass },
	}
	h.newEngine()
	return h
}

func (h *harness) newEngine() {
	eng, err := rollout.NewEngine(rollout.Deps{
		Store: h.store, Target: h.target, Now: h.clock.now, Flags: h,
		Judge: rollout.JudgeFunc(func(_ context.Context, s rollout.State) (analysis.Verdict, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.judged++
			d := h.verdict(s)
			return analysis.Verdict{Decision: d, Reason: fmt.Sprintf("scripted %s at step %d", d, s.Step+1), At: h.clock.now()}, nil
		}),
		Smoke: rollout.RunnerFunc(func(context.Context, rollout.State) (json.RawMessage, error) {
			if h.smokeStarted != nil {
				h.smokeStarted <- struct{}{}
				<-h.smokeGate
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			return json.RawMessage(`{"passed":` + fmt.Sprint(h.smokeErr == nil) + `}`), h.smokeErr
		}),
		Infra: rollout.RunnerFunc(func(context.Context, rollout.State) (json.RawMessage, error) {
			return json.RawMessage(`{"summary":"the service stack of production is as applied"}`), nil
		}),
		Hooks: rollout.RunnerFunc(func(context.Context, rollout.State) (json.RawMessage, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.hookRuns++
			return json.RawMessage(`{"output":"migrated"}`), h.hookErr
		}),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.eng = eng
}

func version(v string) target.Version {
	return target.Version{Version: v, Artifact: "sha256:" + v, Instances: 1, Run: target.Run{Command: "hello"}}
}

func config(id string, strategy rollout.Strategy) rollout.Config {
	stable := version("api-v1")
	return rollout.Config{
		ID: id, Release: "rel-" + id, Service: "api", Environment: "production",
		New: version("api-v2"), Stable: &stable, Strategy: strategy,
		Base: target.Desired{Listen: "127.0.0.1:8080"},
		Steps: []rollout.Step{
			{Weight: 5, MinDuration: 10 * time.Second}, {Weight: 25, MinDuration: 10 * time.Second},
			{Weight: 50, MinDuration: 10 * time.Second}, {Weight: 100, MinDuration: 10 * time.Second},
		},
	}
}

func (h *harness) create(cfg rollout.Config) rollout.State {
	h.t.Helper()
	s, err := rollout.New(cfg, h.clock.now())
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.Create(context.Background(), s); err != nil {
		h.t.Fatal(err)
	}
	return s
}

// tick advances the clock by 5 s and ticks; a simulated crash discards the
// engine and starts a new one, as a restarted server would.
func (h *harness) tick() {
	h.t.Helper()
	h.clock.advance(5 * time.Second)
	err := h.eng.Tick(context.Background())
	if errors.Is(err, rollouttest.ErrCrash) {
		h.newEngine()
		return
	}
	if err != nil {
		h.t.Fatal(err)
	}
}

// runUntil ticks until rollout id reaches phase (or fails the test after n ticks).
func (h *harness) runUntil(id string, phase rollout.Phase, n int) rollout.State {
	h.t.Helper()
	for range n {
		h.tick()
		if s := h.get(id); s.Phase == phase && !s.Active() || s.Phase == phase && !phase.Terminal() {
			return s
		}
	}
	s := h.get(id)
	h.t.Fatalf("rollout %s did not reach %s in %d ticks; it is %s (%s)", id, phase, n, s.Phase, s.Reason)
	return s
}

func (h *harness) get(id string) rollout.State {
	h.t.Helper()
	s, err := h.store.Get(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) command(id string, c rollout.Command) rollout.State {
	h.t.Helper()
	s, err := h.eng.Command(context.Background(), id, c)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// path renders the history as "From>To" moves, settles included.
func (h *harness) path(id string) []string {
	var out []string
	for _, tr := range h.store.History(id) {
		step := ""
		if tr.To == rollout.Canary {
			step = fmt.Sprint(tr.Step)
		}
		out = append(out, fmt.Sprintf("%s>%s%s", tr.From, tr.To, step))
	}
	return out
}

// weightsApplied renders every applied desired state as "v1=95,v2=5".
func (h *harness) weightsApplied() []string {
	var out []string
	for _, d := range h.target.Applied() {
		s := ""
		for i, v := range d.Versions {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprintf("%s=%g", v.Version, v.Weight)
		}
		out = append(out, s)
	}
	return out
}
