// Package explain tells a rollout's decisions in plain words — what was
// measured, against what, what it means, what belay did and what a person can
// do — for `belay explain` and the dashboard. Pure functions over a rollout's
// state and transitions; the numbers stay in the transitions' evidence.
package explain

import (
	"fmt"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
)

// Decision is one transition told in plain words.
type Decision struct {
	Seq int64 `json:"seq"` // the transition it tells
	// Story is sentences in order: what was measured against what, what it
	// means, what belay did. No statistics vocabulary: the evidence has that.
	Story []string `json:"story"`
	Next  string   `json:"next,omitempty"` // what a person can do now
}

// Explanation is a rollout's decisions, with the one that settled where
// it is as its summary.
type Explanation struct {
	Summary   *Decision  `json:"summary,omitempty"`
	Decisions []Decision `json:"decisions,omitempty"`
}

// Rollout tells every transition of a rollout that is not bookkeeping; st
// is the rollout's current state (for its versions, steps and settings).
func Rollout(st rollout.State, ts []rollout.Transition) Explanation {
	var out Explanation
	at := map[int64]int{}
	for i := range ts {
		if Bookkeeping(ts, i) {
			continue
		}
		at[ts[i].Seq] = len(out.Decisions)
		out.Decisions = append(out.Decisions, tell(st, ts, i))
	}
	if i := settling(st, ts); i >= 0 {
		if k, ok := at[ts[i].Seq]; ok {
			d := out.Decisions[k]
			out.Summary = &d
		}
	}
	return out
}

// Bookkeeping reports whether transition i only records the engine's own
// progress (its events sent) after the transition before it: no decision.
func Bookkeeping(ts []rollout.Transition, i int) bool {
	t := ts[i]
	return i > 0 && t.From == t.To && t.Reason == ts[i-1].Reason && t.Verdict == nil && !t.Override
}

// settling is the index of the transition that decided where the rollout
// is: the move into rolling back, failing, pausing or promoting, or the
// latest decision while it runs; -1 without transitions.
func settling(st rollout.State, ts []rollout.Transition) int {
	into := map[rollout.Phase]rollout.Phase{
		rollout.RolledBack: rollout.RollingBack, rollout.RollingBack: rollout.RollingBack,
		rollout.Succeeded: rollout.Promoting, rollout.Promoting: rollout.Promoting,
		rollout.Failed: rollout.Failed, rollout.Paused: rollout.Paused,
	}
	if p, ok := into[st.Phase]; ok {
		for i := len(ts) - 1; i >= 0; i-- {
			if ts[i].To == p && ts[i].From != p {
				return i
			}
		}
	}
	for i := len(ts) - 1; i >= 0; i-- {
		if !Bookkeeping(ts, i) {
			return i
		}
	}
	return -1
}

// tell is transition i's decision: a person's command, a verdict, an
// action that failed, or the phase's own step.
func tell(st rollout.State, ts []rollout.Transition, i int) Decision {
	c := scene{st: st, ts: ts, i: i, t: ts[i]}
	var d Decision
	switch {
	case c.t.Override:
		d = c.override()
	case c.t.Verdict != nil:
		d = c.verdict()
	case c.t.Cause == rollout.Failure:
		d = c.failure()
	default:
		d = c.step()
	}
	d.Seq = c.t.Seq
	for k := range d.Story {
		d.Story[k] = sentence(d.Story[k], c.t.Actor)
	}
	d.Next = sentence(d.Next)
	return d
}

// scene is what a transition's story may draw on.
type scene struct {
	st rollout.State
	ts []rollout.Transition
	i  int
	t  rollout.Transition
}

// stable is the version a rollback returns traffic to ("" on a first release).
func (c scene) stable() string {
	if to := c.st.RollbackTarget(); to != nil {
		return to.Version
	}
	return ""
}

// live is how long the new version had taken traffic at this transition:
// since the first step's (or the watch's) weights were in force, or, for a
// first release, which takes all traffic once started, since it was healthy.
func (c scene) live() (d string, ok bool) {
	for j := 0; j < c.i; j++ {
		t := c.ts[j]
		first := c.st.Stable == nil && t.From == rollout.Deploying && t.Cause == rollout.Done
		if t.To == rollout.Canary && t.Step < len(c.st.Steps) && c.st.Steps[t.Step].Paired() {
			continue // a shadow or replay step gives the new version no user's request
		}
		if first || t.From == t.To && (t.To == rollout.Canary || t.To == rollout.Watching) && t.Cause == rollout.Done {
			return dur(c.t.At.Sub(t.At)), true
		}
	}
	return "", false
}

// stepLive is how long the current step's weights had been in force.
func (c scene) stepLive() (string, bool) {
	for j := c.i - 1; j >= 0; j-- {
		t := c.ts[j]
		if t.From == t.To && t.To == c.t.From && t.Cause == rollout.Done {
			return dur(c.t.At.Sub(t.At)), true
		}
	}
	return "", false
}

// share is the new version's traffic at step k.
func (c scene) share(k int) string {
	if c.st.Stable == nil || k >= len(c.st.Steps) {
		return "all traffic (there is no other version to share it with)"
	}
	switch s := c.st.Steps[k]; {
	case s.Replay != "":
		return "no user traffic, but requests sampled in " + s.Replay + ", replayed against it and the stable version " + c.st.Stable.Version
	case s.Shadow > 0:
		return fmt.Sprintf("no user traffic, but copies of %g %% of the requests the stable version answers; their answers are measured and thrown away", s.Shadow)
	}
	return fmt.Sprintf("%g %% of traffic", c.st.Steps[k].Weight)
}

// then is what belay did after judging: the transition's destination in words.
func (c scene) then() string {
	switch c.t.To {
	case rollout.RollingBack:
		s := "belay rolled it back"
		d, ok := c.live()
		if ok {
			s += " after it had taken traffic for " + d
		}
		if to := c.stable(); to != "" && !ok && c.st.Stable != nil && c.st.RollbackTo == nil {
			return s + " before it took any user traffic: " + to + " kept serving everything"
		}
		if to := c.stable(); to != "" {
			return s + ": all traffic goes back to " + to
		}
		return s + ": it is stopped, as there is no earlier version to go back to"
	case rollout.Paused:
		if c.contract() {
			return "belay would roll it back, but a contract migration ran and the older version may not work with the database, so it paused for a person to decide; traffic stays as it is"
		}
		return "belay paused the rollout; traffic stays as it is until a person decides"
	case rollout.Failed:
		return "belay stopped the release before any traffic moved"
	case rollout.Canary:
		return "belay moved it to the next step: it now takes " + c.share(c.t.Step)
	case rollout.Watching:
		return fmt.Sprintf("belay gave it all traffic and watches it for %s before making it the stable version", dur(c.st.Watch))
	case rollout.Promoting:
		return "belay made it the stable version in " + c.st.Environment
	}
	return "the rollout is now " + string(c.t.To)
}

// contract reports a pause that stands for a rollback a contract migration
// forbids: a failure or failing verdict that would otherwise roll back.
func (c scene) contract() bool {
	if c.st.MigrationType != rollout.ContractMigration || c.t.To != rollout.Paused {
		return false
	}
	if v := c.t.Verdict; v != nil {
		return v.Decision == analysis.Fail || v.Policy == analysis.PolicyRollback
	}
	switch c.t.From {
	case rollout.Deploying, rollout.SmokeTesting, rollout.Canary, rollout.Watching:
		return c.t.Cause == rollout.Failure
	}
	return false
}

// next is what a person can do after the transition, by where it led.
func (c scene) next() string {
	id := c.st.ID
	switch c.t.To {
	case rollout.RollingBack:
		return fmt.Sprintf("find the cause in its logs (`belay logs %s --env %s --version %s`), fix it and release a new version",
			c.st.Service, c.st.Environment, c.st.New.Version)
	case rollout.Paused:
		if c.contract() {
			return fmt.Sprintf("promote it (`belay promote %s --reason …`) or roll back accepting the schema (`belay rollback %s --env %s --accept-contract --reason …`)",
				id, c.st.Service, c.st.Environment)
		}
		return c.decide()
	}
	return ""
}

// decide names the commands a person decides a paused rollout with.
func (c scene) decide() string {
	id := c.st.ID
	if c.t.To != rollout.Paused {
		return "release again"
	}
	return fmt.Sprintf("decide: `belay resume %s`, `belay promote %s` or `belay abort %s`, each with --reason", id, id, id)
}
