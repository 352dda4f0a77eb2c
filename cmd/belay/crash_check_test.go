package main

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/rollout"
)

// rolloutOf waits for the rollout of version in env (created when the
// release got there) and returns its ID.
func (r *crashRig) rolloutOf(env, version string) int64 {
	r.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		var rows []rolloutView
		if err := r.get("/api/v1/rollouts?service=hello&environment="+env, &rows); err == nil {
			for _, row := range rows {
				if row.Version == version {
					return row.ID
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("no rollout of %s in %s after 90s", version, env)
	return 0
}

// follow polls rollout id until it is terminal. With crash, it kills the
// server the first time the rollout is seen in each phase (each canary step
// counts as one) and restarts it.
func (r *crashRig) follow(id int64, crash bool) rolloutView {
	r.t.Helper()
	seen := map[string]bool{}
	var hits []string
	var last rolloutView
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var v rolloutView
		if err := r.get(fmt.Sprintf("/api/v1/rollouts/%d", id), &v); err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if v.Terminal {
			v.hits = hits
			return v
		}
		last = v
		key := v.Phase
		if v.Phase == string(rollout.Canary) {
			key = fmt.Sprintf("Canary[%d]", v.state().Step)
		}
		if crash && !seen[key] {
			seen[key] = true
			hits = append(hits, key)
			if r.kill != nil {
				r.kill()
			} else {
				r.crash()
			}
			continue
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatalf("rollout %d not finished after 2m; server killed in %v; it is %s: %s", id, hits, last.Phase, last.state().Reason)
	return rolloutView{}
}

// stable is the stable version of hello in env, as the server says.
func (r *crashRig) stable(env string) string {
	r.t.Helper()
	return r.envStatus(env).Stable
}

func (r *crashRig) envStatus(env string) api.EnvStatus {
	r.t.Helper()
	var st []api.ServiceStatus
	if err := r.get("/api/v1/status?service=hello", &st); err != nil {
		r.t.Fatal(err)
	}
	for _, s := range st {
		for _, e := range s.Environments {
			if e.Environment == env {
				return e
			}
		}
	}
	return api.EnvStatus{}
}

// agree checks that no rollout runs in env and that the store's stable
// version is the one taking all the traffic the agent routes.
func (r *crashRig) agree(env string) {
	r.t.Helper()
	e := r.envStatus(env)
	if e.Rollout != nil {
		r.t.Fatalf("%s: rollout %d still in flight", env, e.Rollout.ID)
	}
	if e.Observed == nil {
		r.t.Fatalf("%s: traffic unobservable: %s", env, e.ObserveErr)
	}
	for _, v := range e.Observed.Versions {
		if v.Weight > 0 && v.Version != e.Stable {
			r.t.Fatalf("%s: the store says %s is stable, but %s takes %.1f %% of the traffic", env, e.Stable, v.Version, v.Weight)
		}
	}
}

// next lists the phases a transition may lead to from each phase (besides
// staying, which settles the phase's actions).
var next = map[rollout.Phase][]rollout.Phase{
	rollout.Pending:            {rollout.Verifying, rollout.AwaitingApproval},
	rollout.Verifying:          {rollout.InfrastructurePlan, rollout.Migrating, rollout.Deploying, rollout.Failed},
	rollout.InfrastructurePlan: {rollout.Migrating, rollout.Deploying, rollout.Failed},
	rollout.Migrating:          {rollout.Deploying, rollout.Failed},
	rollout.Deploying:          {rollout.SmokeTesting, rollout.RollingBack},
	rollout.SmokeTesting:       {rollout.Canary, rollout.RollingBack},
	rollout.Canary:             {rollout.Watching, rollout.Promoting, rollout.RollingBack},
	rollout.Watching:           {rollout.Promoting, rollout.RollingBack},
	rollout.Promoting:          {rollout.Succeeded},
	rollout.RollingBack:        {rollout.RolledBack},
}

// checkChain checks a rollout's history is one unbroken chain: seq 1, 2, 3 …
// each from where the last one went, along edges the state machine has,
// completions only of pending actions, verdicts and ticks only without.
func checkChain(ts []rollout.Transition) error {
	return checkChainFrom(rollout.Transition{To: rollout.Pending}, ts)
}

// checkRollbackChain checks the history of a rollout of kind rollback,
// which is created in RollingBack with its actions asked for (seq 0).
func checkRollbackChain(ts []rollout.Transition) error {
	return checkChainFrom(rollout.Transition{To: rollout.RollingBack, Actions: []rollout.ActionKind{rollout.SetWeights}}, ts)
}

func checkChainFrom(prev rollout.Transition, ts []rollout.Transition) error {
	for i, t := range ts {
		if t.Seq != int64(i+1) {
			return fmt.Errorf("transition %d has seq %d: a gap or a repeat", i+1, t.Seq)
		}
		if t.From != prev.To {
			return fmt.Errorf("seq %d starts from %s, but seq %d went to %s", t.Seq, t.From, prev.Seq, prev.To)
		}
		pending := len(prev.Actions) > 0
		switch t.Cause {
		case rollout.Done, rollout.Failure:
			if !pending {
				return fmt.Errorf("seq %d completes actions, but seq %d left none pending: a duplicated completion", t.Seq, prev.Seq)
			}
		case rollout.Judged, rollout.Tick:
			if pending && prev.Seq > 0 {
				return fmt.Errorf("seq %d (%s) while seq %d's actions %v were pending", t.Seq, t.Cause, prev.Seq, prev.Actions)
			}
		}
		if err := checkEdge(prev, t); err != nil {
			return err
		}
		prev = t
	}
	if !prev.To.Terminal() || len(prev.Actions) > 0 {
		return fmt.Errorf("history ends at seq %d in %s with %v pending", prev.Seq, prev.To, prev.Actions)
	}
	return nil
}

func checkEdge(prev, t rollout.Transition) error {
	if t.From == t.To {
		switch {
		case t.From != rollout.Canary && t.Step != prev.Step:
			return fmt.Errorf("seq %d changes step in %s", t.Seq, t.From)
		case t.From == rollout.Canary && t.Step != prev.Step && t.Step != prev.Step+1:
			return fmt.Errorf("seq %d jumps from canary step %d to %d", t.Seq, prev.Step, t.Step)
		}
		return nil
	}
	for _, p := range next[t.From] {
		if p == t.To {
			return nil
		}
	}
	return fmt.Errorf("seq %d goes %s → %s, which the state machine never does", t.Seq, t.From, t.To)
}

// checkEvents checks that every event of rollout id's transitions is stored
// exactly once: the i-th emit action of seq s is event "id/s/i".
func (r *crashRig) checkEvents(id int64, ts []rollout.Transition) {
	r.t.Helper()
	var evs []struct {
		ID      string `json:"id"`
		Event   string `json:"event"`
		Rollout string `json:"rollout"`
	}
	if err := r.get("/api/v1/events", &evs); err != nil {
		r.t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range evs {
		if e.Rollout == fmt.Sprint(id) {
			count[e.ID]++
		}
	}
	want := map[string]bool{}
	for _, t := range ts {
		for _, e := range t.Emitted {
			want[e] = true
		}
	}
	for w := range want {
		switch count[w] {
		case 1:
		case 0:
			r.t.Errorf("rollout %d: event %s lost", id, w)
		default:
			r.t.Errorf("rollout %d: event %s stored %d times", id, w, count[w])
		}
	}
	for got := range count {
		if !want[got] {
			r.t.Errorf("rollout %d: event %s belongs to no transition", id, got)
		}
	}
	r.t.Logf("rollout %d: %d transitions, %d events", id, len(ts), len(want))
}

// TestCheckChainCatches shows the crash test's history check fails on the
// faults it looks for: a lost or repeated transition, a broken chain, an
// impossible edge, actions completed twice.
func TestCheckChainCatches(t *testing.T) {
	emit := []rollout.ActionKind{rollout.Emit}
	good := []rollout.Transition{
		{Seq: 1, From: rollout.Pending, To: rollout.Verifying, Cause: rollout.Tick, Actions: emit},
		{Seq: 2, From: rollout.Verifying, To: rollout.Deploying, Cause: rollout.Done, Actions: emit},
		{Seq: 3, From: rollout.Deploying, To: rollout.RollingBack, Cause: rollout.Failure, Actions: emit},
		{Seq: 4, From: rollout.RollingBack, To: rollout.RolledBack, Cause: rollout.Done, Actions: emit},
		{Seq: 5, From: rollout.RolledBack, To: rollout.RolledBack, Cause: rollout.Done},
	}
	if err := checkChain(good); err != nil {
		t.Fatalf("a valid history: %v", err)
	}
	for name, edit := range map[string]func([]rollout.Transition) []rollout.Transition{
		"lost":         func(ts []rollout.Transition) []rollout.Transition { return append(ts[:1:1], ts[2:]...) },
		"repeated":     func(ts []rollout.Transition) []rollout.Transition { return append(ts[:2:2], ts[1:]...) },
		"broken chain": func(ts []rollout.Transition) []rollout.Transition { ts[2].From = rollout.Canary; return ts },
		"impossible": func(ts []rollout.Transition) []rollout.Transition {
			ts[1].To, ts[2].From = rollout.Promoting, rollout.Promoting
			return ts
		},
		"done twice":    func(ts []rollout.Transition) []rollout.Transition { ts[1].Actions = nil; return ts },
		"not finished":  func(ts []rollout.Transition) []rollout.Transition { return ts[:4] },
		"tick too soon": func(ts []rollout.Transition) []rollout.Transition { ts[1].Cause = rollout.Tick; return ts },
	} {
		if err := checkChain(edit(slices.Clone(good))); err == nil {
			t.Errorf("%s: not caught", name)
		}
	}
}
