package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/english"
	"github.com/belay-dev/belay/internal/rollout"
)

// release starts a release and narrates it until its production rollout
// ends; wantPhase is how it must end there.
func (r *run) release(ctx context.Context, version, title, wantPhase string) error {
	r.say(title)
	out, err := r.belay(ctx, "release", "hello", version, "-o", "json")
	if err != nil {
		return err
	}
	var ans api.ReleaseAnswer
	if err := json.Unmarshal(out, &ans); err != nil {
		return err
	}
	fmt.Fprintf(r.Out, "   $ belay release hello %s  → release %d, previous stable in production: %s\n", version, ans.Release, dash(ans.Plan.PreviousStable["production"]))
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	seen := map[string]bool{}
	for {
		views, err := r.rolloutsOf(ctx, ans.Release)
		if err != nil {
			return fmt.Errorf("following release %d: %w", ans.Release, err)
		}
		for _, v := range views {
			r.narrate(v, seen)
			if !v.Terminal {
				continue
			}
			if v.Environment == "production" || v.Phase != "Succeeded" {
				if v.Phase != wantPhase {
					return fmt.Errorf("release %d ended %s in %s, expected %s: see `belay explain %d`", ans.Release, v.Phase, v.Environment, wantPhase, v.ID)
				}
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("release %d did not finish in time: %w", ans.Release, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// rolloutsOf lists the release's rollouts, with their state.
func (r *run) rolloutsOf(ctx context.Context, release int64) ([]api.RolloutView, error) {
	var all []api.RolloutView
	if err := r.get(ctx, "/rollouts?service=hello", &all); err != nil {
		return nil, err
	}
	var out []api.RolloutView
	for _, v := range all {
		if v.Release != release {
			continue
		}
		if err := r.get(ctx, "/rollouts/"+strconv.FormatInt(v.ID, 10), &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// narrate prints each phase (and canary step) of a rollout once.
func (r *run) narrate(v api.RolloutView, seen map[string]bool) {
	var st rollout.State
	_ = json.Unmarshal(v.State, &st)
	what := v.Phase
	if v.Phase == string(rollout.Canary) && st.Step < len(st.Steps) {
		switch step := st.Steps[st.Step]; {
		case step.Replay != "":
			what = "Replay " + step.Replay
		case step.Shadow > 0:
			what = fmt.Sprintf("Shadow %g%%", step.Shadow)
		default:
			what = fmt.Sprintf("Canary %g%%", step.Weight)
		}
	}
	key := v.Environment + "/" + what
	if seen[key] {
		return
	}
	seen[key] = true
	line := fmt.Sprintf("   [%5.1fs] %-10s %-13s", time.Since(r.start).Seconds(), v.Environment, what)
	if st.Reason != "" && (v.Terminal || v.Phase == string(rollout.RollingBack)) {
		line += "  " + st.Reason
	}
	if t := r.served(v.Version); v.Environment == "production" && t.Total > 0 && v.Phase == string(rollout.Canary) {
		line += fmt.Sprintf("  (%s served by it so far, %d failed)", english.Count(t.Total, "request"), t.Failed)
	}
	fmt.Fprintln(r.Out, line)
}

func dash(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
