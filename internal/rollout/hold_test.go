package rollout_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/rollout/rollouttest"
	"github.com/belay-dev/belay/internal/target"
)

// hostsTarget is the rollouttest target with hosts the test makes unknown.
type hostsTarget struct {
	*rollouttest.Target
	mu      sync.Mutex
	unknown []string
}

func (t *hostsTarget) Unknown(context.Context, string) []target.HostState {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []target.HostState
	for _, n := range t.unknown {
		out = append(out, target.HostState{Name: n, Address: n + ":7070", Unknown: true, Error: "i/o timeout"})
	}
	return out
}

func (t *hostsTarget) set(names ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unknown = names
}

// TestUnknownHostHolds: while a host is unknown the rollout neither judges,
// promotes nor rolls back (even with a failing verdict scripted), and says
// which host; once it answers the rollout goes on and finishes.
func TestUnknownHostHolds(t *testing.T) {
	h := newHarness(t)
	ht := &hostsTarget{Target: h.target}
	eng, err := rollout.NewEngine(rollout.Deps{Store: h.store, Target: ht, Now: h.clock.now, Judge: rollout.JudgeFunc(
		func(_ context.Context, s rollout.State) (analysis.Verdict, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.judged++
			return analysis.Verdict{Decision: h.verdict(s), Reason: "scripted", At: h.clock.now()}, nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	h.eng = eng
	h.create(config("r1", rollout.Staged))
	s := h.runUntil("r1", rollout.Canary, 20)
	for s.StepStarted.IsZero() {
		h.tick()
		s = h.get("r1")
	}
	ht.set("b")
	h.mu.Lock()
	h.verdict = func(rollout.State) analysis.Decision { return analysis.Fail }
	judged := h.judged
	h.mu.Unlock()
	for range 20 {
		h.tick()
	}
	s = h.get("r1")
	if s.Phase != rollout.Canary || s.Step != 0 {
		t.Fatalf("with host b unknown the rollout moved: %s step %d (%s)", s.Phase, s.Step, s.Reason)
	}
	if !strings.Contains(s.Reason, "host b unknown") || len(s.Held) != 1 {
		t.Fatalf("reason %q held %v", s.Reason, s.Held)
	}
	if h.judged != judged {
		t.Fatalf("judged %d times while holding", h.judged-judged)
	}
	hist := h.store.History("r1")
	last := hist[len(hist)-1]
	if last.Cause != rollout.Held || !strings.Contains(string(last.Evidence), `"name":"b"`) {
		t.Fatalf("the hold's transition %+v", last)
	}
	h.mu.Lock()
	h.verdict = func(rollout.State) analysis.Decision { return analysis.Pass }
	h.mu.Unlock()
	ht.set()
	s = h.runUntil("r1", rollout.Succeeded, 60)
	if len(s.Held) != 0 {
		t.Fatalf("held %v after b came back", s.Held)
	}
	found := false
	for _, tr := range h.store.History("r1") {
		found = found || tr.Cause == rollout.Held && strings.Contains(tr.Reason, "host b answers again")
	}
	if !found {
		t.Fatal("no transition says host b answers again")
	}
}
