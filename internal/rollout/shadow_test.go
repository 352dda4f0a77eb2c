package rollout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/target"
)

func shadowConfig(id string) rollout.Config {
	cfg := config(id, rollout.CanaryStrategy)
	cfg.Mirror = &target.Shadow{Methods: []string{"GET"}, MaxInFlight: 16, ReplayRate: 20, DropHeaders: []string{"X-Key"}}
	cfg.Steps = append([]rollout.Step{{Shadow: 100, MinDuration: 10 * time.Second}}, cfg.Steps...)
	return cfg
}

// A shadow step that fails rolls back before any user request reached the
// new version: no applied state ever gave it weight.
func TestFailedShadowStepRollsBackBeforeUsers(t *testing.T) {
	h := newHarness(t)
	h.verdict = func(s rollout.State) analysis.Decision { return analysis.Fail }
	h.create(shadowConfig("r1"))
	s := h.runUntil("r1", rollout.RolledBack, 40)
	want(t, "weights", h.weightsApplied(), []string{"api-v1=100,api-v2=0", "api-v1=100,api-v2=0", "api-v1=100"})
	applied := h.target.Applied()
	sh := applied[1].Shadow
	if applied[0].Shadow != nil || sh == nil || sh.Version != "api-v2" || sh.Share != 100 || sh.MaxInFlight != 16 || sh.Methods[0] != "GET" || sh.ReplayRate != 0 || sh.DropHeaders != nil {
		t.Fatalf("the shadow step must ask for copies of all requests to api-v2 with the configured bounds; applied %+v then %+v", applied[0].Shadow, sh)
	}
	if applied[2].Shadow != nil {
		t.Errorf("the rollback still mirrors: %+v", applied[2].Shadow)
	}
	if !strings.Contains(s.Reason, "analysis failed") {
		t.Errorf("reason %q", s.Reason)
	}
	for _, e := range h.events() {
		if e.Event == "" || !strings.Contains(e.Reason, "shadow of 100% of requests") && e.Phase == string(rollout.Canary) {
			t.Errorf("a shadow step's event must say what the step gives: %+v", e)
		}
	}
}

// A passing shadow step moves on to the first weighted step without copies.
func TestShadowStepThenCanary(t *testing.T) {
	h := newHarness(t)
	h.create(shadowConfig("r1"))
	h.runUntil("r1", rollout.Succeeded, 80)
	got := h.weightsApplied()
	want(t, "weights", got[:3], []string{"api-v1=100,api-v2=0", "api-v1=100,api-v2=0", "api-v1=95,api-v2=5"})
	if a := h.target.Applied(); a[1].Shadow == nil || a[2].Shadow != nil {
		t.Fatalf("copies only during the shadow step: %+v, %+v", a[1].Shadow, a[2].Shadow)
	}
}

func TestReplayStepAsksForAReplay(t *testing.T) {
	h := newHarness(t)
	cfg := config("r1", rollout.AllAtOnce)
	cfg.Environment = "staging"
	cfg.Steps = []rollout.Step{{Replay: "production", MinDuration: 10 * time.Second}}
	cfg.Mirror = &target.Shadow{ReplayRate: 20, DropHeaders: []string{"X-Key"}}
	h.create(cfg)
	h.runUntil("r1", rollout.Succeeded, 80)
	a := h.target.Applied()
	want(t, "weights", h.weightsApplied()[:3], []string{"api-v1=100,api-v2=0", "api-v1=100,api-v2=0", "api-v1=0,api-v2=100"})
	if sh := a[1].Shadow; sh == nil || sh.Replay != "production" || sh.Share != 100 || sh.Version != "api-v2" || sh.ReplayRate != 20 || sh.DropHeaders[0] != "X-Key" {
		t.Fatalf("replay step applied %+v", sh)
	}
}

func TestPairedStepsNormalised(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	cfg := shadowConfig("r1")
	s, err := rollout.New(cfg, t0)
	if err != nil || len(s.Steps) != 5 || !s.Steps[0].Paired() || s.Steps[1].Weight != 5 {
		t.Fatalf("shadow then four weights: %v %v", s.Steps, err)
	}
	cfg.Stable = nil // a first release has nothing to pair with
	if s, err = rollout.New(cfg, t0); err != nil || len(s.Steps) != 4 || s.Steps[0].Paired() {
		t.Fatalf("first release keeps only the weighted steps: %v %v", s.Steps, err)
	}
	cfg = shadowConfig("r1")
	cfg.Steps = append(cfg.Steps[1:2], rollout.Step{Shadow: 50})
	if _, err = rollout.New(cfg, t0); err == nil || !strings.Contains(err.Error(), "step 2: a shadow or replay step must come before the first weighted step") {
		t.Fatalf("shadow after weight: %v", err)
	}
	cfg.Steps = []rollout.Step{{Shadow: 150}, {Weight: 100}}
	if _, err = rollout.New(cfg, t0); err == nil || !strings.Contains(err.Error(), "step 1") {
		t.Fatalf("shadow 150%%: %v", err)
	}
	if got := (rollout.Step{Shadow: 25}).String(); got != "shadow of 25% of requests" {
		t.Errorf("String %q", got)
	}
}
