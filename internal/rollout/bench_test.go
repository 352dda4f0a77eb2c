package rollout_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
)

// BenchmarkNext measures one verdict through the transition function.
func BenchmarkNext(b *testing.B) {
	s, _ := rollout.New(config("r1", rollout.CanaryStrategy), time.Unix(0, 0))
	s.Phase, s.StepStarted = rollout.Canary, time.Unix(0, 0)
	v := &analysis.Verdict{Decision: analysis.Pass}
	for b.Loop() {
		rollout.Next(s, rollout.Observation{Kind: rollout.Judged, Verdict: v}, time.Unix(20, 0))
	}
}

// BenchmarkTick100Canaries measures one engine tick over 100 rollouts in
// their canary, each asking the judge (in-memory store, JSON copies included).
func BenchmarkTick100Canaries(b *testing.B) {
	h := newHarness(b)
	h.verdict = func(rollout.State) analysis.Decision { return analysis.Continue }
	for i := range 100 {
		h.create(config(fmt.Sprintf("r%03d", i), rollout.CanaryStrategy))
	}
	ctx := context.Background()
	h.eng.Tick(ctx) // walk them into the canary
	for b.Loop() {
		if err := h.eng.Tick(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if a, _ := h.store.Active(ctx); len(a) != 100 || a[0].Phase != rollout.Canary {
		b.Fatalf("rollouts not in their canary: %d %s", len(a), a[0].Phase)
	}
}
