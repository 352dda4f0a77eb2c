package rollout_test

import (
	"context"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
)

// Run drives rollouts on its own ticker, in real time, until cancelled.
func TestRunDrivesUntilCancelled(t *testing.T) {
	h := newHarness(t)
	eng, err := rollout.NewEngine(rollout.Deps{Store: h.store, Target: h.target, Judge: passJudge{}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config("r1", rollout.CanaryStrategy)
	cfg.Steps = []rollout.Step{{Weight: 50}, {Weight: 100}}
	s, _ := rollout.New(cfg, time.Now())
	h.store.Create(context.Background(), s)
	v0 := version("api-v0")
	cfg2 := config("r2", rollout.AllAtOnce)
	cfg2.Environment = "staging"
	rb, _, err := rollout.NewRollback(cfg2, v0, rollout.Command{Actor: "ann"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h.store.Create(context.Background(), rb)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- eng.Run(ctx, 5*time.Millisecond) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		a, _ := h.store.Active(ctx)
		if len(a) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still active: %+v", a)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := h.get("r1").Phase; got != rollout.Succeeded {
		t.Errorf("r1 %s", got)
	}
	if got := h.get("r2").Phase; got != rollout.RolledBack {
		t.Errorf("r2 %s", got)
	}
	if w := h.target.Weights("staging", "api"); len(w) != 1 || w["api-v0"] != 100 {
		t.Errorf("staging weights %v", w)
	}
}

type passJudge struct{}

func (passJudge) Judge(_ context.Context, s rollout.State) (analysis.Verdict, error) {
	return analysis.Verdict{Decision: "pass", Reason: "ok"}, nil
}
