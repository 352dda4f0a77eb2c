package rollout_test

import (
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/target"
)

// The watch: after the last step the new version keeps all traffic, the
// previous stable stays started at weight 0, triggers keep being asked, and
// only after the watch does the version become stable.
func TestWatchThenPromote(t *testing.T) {
	h := newHarness(t)
	cfg := config("r1", rollout.CanaryStrategy)
	cfg.Steps = []rollout.Step{{Weight: 50, MinDuration: 10 * time.Second}, {Weight: 100, MinDuration: 10 * time.Second}}
	cfg.Watch, cfg.KeepPrevious = time.Minute, true
	h.create(cfg)
	h.runUntil("r1", rollout.Watching, 40)
	if len(h.stables()) != 0 {
		t.Fatalf("stable before the watch ended: %v", h.stables())
	}
	if w := h.target.Weights("production", "api"); w["api-v1"] != 0 || w["api-v2"] != 100 || len(w) != 2 {
		t.Fatalf("watch weights %v: the previous stable must stay started with no traffic", w)
	}
	judged := h.judged
	h.tick() // weights in force: the watch starts
	s := h.get("r1")
	if left := s.WatchLeft(h.clock.now()); s.WatchStarted.IsZero() || left <= 0 || left > time.Minute {
		t.Fatalf("watch not started: %+v", s)
	}
	h.clock.advance(30 * time.Second)
	h.tick()
	if h.get("r1").Phase != rollout.Watching || h.judged == judged {
		t.Fatalf("watch ended early or triggers not asked (%d judgements)", h.judged-judged)
	}
	s = h.runUntil("r1", rollout.Succeeded, 40)
	if got := h.stables(); len(got) != 1 || got[0] != "production:api-v2" {
		t.Fatalf("stable %v", got)
	}
	if held := s.PhaseEntered.Sub(s.WatchStarted); held < time.Minute {
		t.Fatalf("promoted after a watch of %s", held)
	}
}

func TestTriggerDuringWatchRollsBackByWeight(t *testing.T) {
	h := newHarness(t)
	cfg := config("r1", rollout.CanaryStrategy)
	cfg.Steps = []rollout.Step{{Weight: 100, MinDuration: 10 * time.Second}}
	cfg.Watch, cfg.KeepPrevious = 10*time.Minute, true
	h.create(cfg)
	h.runUntil("r1", rollout.Watching, 40)
	h.tick()
	h.verdict = func(s rollout.State) analysis.Decision {
		if s.Phase == rollout.Watching {
			return analysis.Fail
		}
		return analysis.Pass
	}
	h.clock.advance(2 * time.Minute)
	s := h.runUntil("r1", rollout.RolledBack, 40)
	if w := h.target.Weights("production", "api"); w["api-v1"] != 100 || len(w) != 1 {
		t.Fatalf("weights after rollback %v", w)
	}
	// The previous stable was never stopped: the rollback was a weight change.
	for _, d := range h.target.Applied() {
		if len(d.Versions) == 1 && d.Versions[0].Version == "api-v2" {
			t.Fatalf("previous stable stopped during the watch: %+v", d)
		}
	}
	if len(h.stables()) != 0 {
		t.Fatalf("a rolled-back version became stable: %v", h.stables())
	}
	if tr := h.store.History("r1"); tr[len(tr)-1].Rejected != "api-v2" {
		t.Fatalf("not rejected: %+v", tr[len(tr)-1])
	}
	if s.LastVerdict == nil || s.LastVerdict.Decision != analysis.Fail {
		t.Fatalf("verdict lost: %+v", s.LastVerdict)
	}
}

func TestWatchWithoutKeepPreviousStopsIt(t *testing.T) {
	h := newHarness(t)
	cfg := config("r1", rollout.AllAtOnce)
	cfg.Watch = time.Minute
	h.create(cfg)
	h.runUntil("r1", rollout.Watching, 40)
	h.tick()
	if w := h.target.Weights("production", "api"); len(w) != 1 || w["api-v2"] != 100 {
		t.Fatalf("weights %v", w)
	}
}

func TestWatchOutOfRange(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, rollout.MaxWatch + time.Second} {
		cfg := config("r1", rollout.AllAtOnce)
		cfg.Watch = d
		if _, err := rollout.New(cfg, time.Now()); err == nil {
			t.Errorf("watch %s accepted", d)
		}
	}
}

// A rollback that cannot finish (the target keeps failing) pauses for a
// person; abort then ends the rollout instead of looping back to Paused.
func TestAbortEndsAStuckRollback(t *testing.T) {
	h := newHarness(t)
	h.create(config("r1", rollout.CanaryStrategy))
	h.runUntil("r1", rollout.Canary, 40)
	h.verdict = func(rollout.State) analysis.Decision { return analysis.Fail }
	h.target.Fail("api-v1", target.ErrUnhealthy) // the version to return to cannot start
	s := h.runUntil("r1", rollout.Paused, 40)
	if s.Pause == nil || s.Pause.From != rollout.RollingBack {
		t.Fatalf("%+v", s.Pause)
	}
	s = h.command("r1", rollout.Command{Kind: rollout.CmdAbort, Actor: "ann", Reason: "taking over"})
	if s.Phase != rollout.Failed || s.Active() {
		t.Fatalf("abort left %s (active %v)", s.Phase, s.Active())
	}
}
