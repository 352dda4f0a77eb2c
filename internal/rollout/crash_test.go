package rollout_test

import (
	"slices"
	"testing"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
)

// TestCrashAtEveryTransition kills the engine at each transition — once just
// after the new state is persisted (before its actions ran) and once just
// before (after the previous actions ran) — and starts a new engine. The
// rollout must take exactly the path and reach exactly the weights of an
// uninterrupted run, and every event must reach the sink (duplicates only
// with the same ID).
func TestCrashAtEveryTransition(t *testing.T) {
	for _, sc := range []struct {
		name    string
		final   rollout.Phase
		verdict func(rollout.State) analysis.Decision
	}{
		{"promoted", rollout.Succeeded, func(rollout.State) analysis.Decision { return analysis.Pass }},
		{"rolled back", rollout.RolledBack, func(s rollout.State) analysis.Decision {
			if s.Step == 2 {
				return analysis.Fail
			}
			return analysis.Pass
		}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			clean := newHarness(t)
			clean.verdict = sc.verdict
			cfg := config("r1", rollout.CanaryStrategy)
			cfg.Hooks, cfg.InfraCheck = true, true
			clean.create(cfg)
			clean.runUntil("r1", sc.final, 60)
			path, weights := clean.path("r1"), clean.target.Weights("production", "api")
			if !slices.Contains(path, "Verifying>InfrastructurePlan") || !slices.Contains(path, "InfrastructurePlan>Migrating") {
				t.Fatalf("path %v does not go through InfrastructurePlan", path)
			}
			ids := eventIDs(clean)
			for n := 1; n <= len(path); n++ {
				for _, after := range []bool{true, false} {
					h := newHarness(t)
					h.verdict = sc.verdict
					h.create(cfg)
					h.store.CrashAt(n, after)
					h.runUntil("r1", sc.final, 60)
					if h.store.Crashes() != 1 {
						t.Fatalf("crash at %d did not happen", n)
					}
					if got := h.path("r1"); !slices.Equal(got, path) {
						t.Fatalf("crash at transition %d (after commit %v):\n got  %v\n want %v", n, after, got, path)
					}
					if got := h.target.Weights("production", "api"); !mapsEqual(got, weights) {
						t.Fatalf("crash at %d: weights %v, want %v", n, got, weights)
					}
					got := eventIDs(h)
					for _, id := range ids {
						if !slices.Contains(got, id) {
							t.Fatalf("crash at %d: event %s lost", n, id)
						}
					}
					if h.hookRuns < 1 || h.hookRuns > 2 {
						t.Fatalf("crash at %d: hooks ran %d times", n, h.hookRuns)
					}
				}
			}
		})
	}
}

func eventIDs(h *harness) []string {
	var out []string
	for _, e := range h.events() {
		out = append(out, e.ID)
	}
	return out
}

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
