package rollout

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
)

// Next is the rollout's transition function: given a state, what was observed
// and the time, it returns the next state and the actions to run. When it
// makes a transition, the returned state has Seq+1 and Pending set to the
// actions; the caller persists it before running them. When it does not, the
// state is returned unchanged with at most read-only actions (Analyze).
func Next(s State, obs Observation, now time.Time) (State, []Action) {
	now = now.UTC()
	switch obs.Kind {
	case Manual:
		if obs.Command == nil || Validate(s, *obs.Command) != nil {
			return s, nil
		}
		return command(s, *obs.Command, now)
	case Done, Failure:
		if obs.Seq != s.Seq || len(s.Pending) == 0 {
			return s, nil // stale: the state moved on while the actions ran
		}
		if obs.Kind == Done {
			return done(s, obs.Evidence, now)
		}
		return failed(s, obs, now)
	case Judged:
		if obs.Seq != s.Seq || len(s.Pending) > 0 || obs.Verdict == nil {
			return s, nil
		}
		switch s.Phase {
		case Canary:
			return judged(s, *obs.Verdict, now)
		case Watching:
			return watched(s, *obs.Verdict, now)
		}
		return s, nil
	case Tick:
		return tick(s, now)
	case Held:
		return held(s, obs, now)
	}
	return s, nil
}

// Holding reports whether the rollout of s holds while hosts of its target
// are unknown: it is serving a step or the watch, and would otherwise
// judge, promote or roll back on what it cannot see whole.
func (s State) Holding() bool {
	return len(s.Pending) == 0 && (s.Phase == Canary || s.Phase == Watching)
}

// held records that hosts are unknown (or answer again): the phase and
// step stay, and their clocks stop while held (moved forward by the hold
// when it ends); the reason says why the rollout does not move.
func held(s State, obs Observation, now time.Time) (State, []Action) {
	if !s.Holding() || slices.Equal(s.Held, obs.Hosts) {
		return s, nil
	}
	var reason string
	switch {
	case len(obs.Hosts) == 0:
		reason = fmt.Sprintf("host %s answers again and was brought to the desired state; the analysis goes on", strings.Join(s.Held, ", "))
		if !s.HeldSince.IsZero() { // time held does not count towards the step or the watch
			d := now.Sub(s.HeldSince)
			if !s.StepStarted.IsZero() {
				s.StepStarted = s.StepStarted.Add(d)
			}
			if !s.WatchStarted.IsZero() {
				s.WatchStarted = s.WatchStarted.Add(d)
			}
		}
		s.HeldSince = time.Time{}
	case len(s.Held) == 0:
		s.HeldSince = now
		fallthrough
	default:
		reason = fmt.Sprintf("holding: host %s unknown (cannot be reached); belay neither promotes nor rolls back "+
			"until it answers, and then brings it to the desired state", strings.Join(obs.Hosts, ", "))
	}
	s.Held = slices.Clone(obs.Hosts)
	return s.settle(now, reason)
}

func tick(s State, now time.Time) (State, []Action) {
	if len(s.Pending) > 0 {
		return s, nil
	}
	switch s.Phase {
	case Pending:
		if s.RequireApproval && s.Approval == nil {
			return s.enter(AwaitingApproval, now, "waiting for approval to deploy to "+s.Environment, nil, started, approvalRequired)
		}
		return s.enter(Verifying, now, "deployment started", nil, started)
	case AwaitingApproval:
		if s.Approval != nil && !now.Before(s.PhaseEntered.Add(s.WaitTimer)) {
			return s.enter(Verifying, now, fmt.Sprintf("approved by %s; the wait timer of %s ran out", s.Approval.Actor, s.WaitTimer), nil)
		}
	case Canary:
		if !s.StepStarted.IsZero() {
			return s, []Action{{Kind: Analyze}}
		}
	case Watching:
		if s.WatchStarted.IsZero() {
			return s, nil
		}
		if now.Sub(s.WatchStarted) >= s.Watch {
			return s.enter(Promoting, now, fmt.Sprintf("watched %s at 100 %% with no rollback trigger firing", s.Watch), nil)
		}
		return s, []Action{{Kind: Analyze}}
	}
	return s, nil
}

// WatchLeft is how much of the watch remains at now (0 outside Watching).
func (s State) WatchLeft(now time.Time) time.Duration {
	if s.Phase != Watching {
		return 0
	}
	if s.WatchStarted.IsZero() {
		return s.Watch
	}
	return max(0, s.Watch-now.Sub(s.WatchStarted))
}

// done moves on once every action of the current phase succeeded;
// evidence is what they reported.
func done(s State, evidence json.RawMessage, now time.Time) (State, []Action) {
	switch s.Phase {
	case Verifying:
		if s.InfraCheck {
			return s.enter(InfrastructurePlan, now, "artifact verified", nil)
		}
		if s.Hooks {
			return s.enter(Migrating, now, "artifact verified", nil)
		}
		return s.enter(Deploying, now, "artifact verified", nil)
	case InfrastructurePlan:
		var ev struct {
			Summary string `json:"summary"`
		}
		_ = json.Unmarshal(evidence, &ev)
		reason := "infrastructure plan: " + cmp.Or(ev.Summary, "checked")
		if s.Hooks {
			return s.enter(Migrating, now, reason, evidence)
		}
		return s.enter(Deploying, now, reason, evidence)
	case Migrating:
		s.Migrated = true
		return s.enter(Deploying, now, "pre-deploy hooks succeeded", nil)
	case Deploying:
		return s.enter(SmokeTesting, now, s.New.Version+" is running and healthy", nil)
	case SmokeTesting:
		s.Step, s.StepStarted = 0, time.Time{}
		return s.enter(Canary, now, "smoke tests passed", nil, canaryStep)
	case Canary:
		s.StepStarted = now // the step's minimum duration counts from here
		return s.settle(now, fmt.Sprintf("step %d: %s in force", s.Step+1, s.Steps[s.Step]))
	case Watching:
		s.WatchStarted = now // the watch counts from here
		return s.settle(now, fmt.Sprintf("watching %s for %s", s.New.Version, s.Watch))
	case Promoting:
		return s.enter(Succeeded, now, s.New.Version+" is stable in "+s.Environment, nil, promoted)
	case RollingBack:
		return s.enter(RolledBack, now, s.Reason, nil, rolledBack)
	}
	return s.settle(now, s.Reason)
}

// failed reacts to an action that failed for good.
func failed(s State, obs Observation, now time.Time) (State, []Action) {
	reason := fmt.Sprintf("%s failed: %s", obs.Action, obs.Error)
	switch s.Phase {
	case Verifying, InfrastructurePlan, Migrating:
		return s.enter(Failed, now, reason+"; no traffic moved", obs.Evidence, failedEv)
	case Deploying, SmokeTesting, Canary, Watching:
		return autoRollback(s, now, reason, obs.Evidence)
	case Promoting, RollingBack:
		return s.pause(now, reason+"; a person must decide", true, obs.Evidence)
	}
	return s.settle(now, s.Reason)
}

// judged applies a verdict to the current canary step.
func judged(s State, v analysis.Verdict, now time.Time) (State, []Action) {
	prev := s
	s.LastVerdict = &v
	ev, _ := json.Marshal(v)
	step := s.Steps[s.Step]
	held := now.Sub(s.StepStarted)
	switch v.Decision {
	case analysis.Pass:
		if held < step.MinDuration {
			return unchanged(prev)
		}
		if s.Step == len(s.Steps)-1 {
			if s.Watch > 0 {
				s.WatchStarted = time.Time{}
				return s.enter(Watching, now, "analysis passed: "+v.Reason, ev)
			}
			return s.enter(Promoting, now, "analysis passed: "+v.Reason, ev)
		}
		s.Step, s.StepStarted = s.Step+1, time.Time{}
		return s.enter(Canary, now, "analysis passed: "+v.Reason, ev, canaryStep)
	case analysis.Fail:
		return autoRollback(s, now, "analysis failed: "+v.Reason, ev)
	case analysis.Inconclusive:
		return inconclusive(s, prev, v, held, ev, now)
	}
	return unchanged(prev)
}

// watched applies a verdict during the watch: a firing trigger (Fail) rolls
// back; metrics unavailable (Inconclusive) apply their policy when it is
// pause or rollback, so that a watch nobody could see is not a passed one.
// The watch's end is decided by time, in tick.
func watched(s State, v analysis.Verdict, now time.Time) (State, []Action) {
	policy := v.Policy
	switch {
	case v.Decision == analysis.Fail:
	case v.Decision == analysis.Inconclusive && (policy == Rollback || policy == PauseOn):
	default:
		return unchanged(s)
	}
	s.LastVerdict = &v
	ev, _ := json.Marshal(v)
	if v.Decision == analysis.Inconclusive {
		if policy == PauseOn {
			return s.pause(now, "analysis inconclusive during the watch: "+v.Reason, true, ev)
		}
		return autoRollback(s, now, "analysis inconclusive during the watch: "+v.Reason, ev)
	}
	return autoRollback(s, now, "rollback trigger fired during the watch: "+v.Reason, ev)
}

func inconclusive(s, prev State, v analysis.Verdict, held time.Duration, ev json.RawMessage, now time.Time) (State, []Action) {
	reason := "analysis inconclusive: " + v.Reason
	policy := s.Inconclusive
	if v.Policy != "" { // the analysis names a policy for this cause (metrics unavailable, low traffic, SRM)
		policy = v.Policy
	}
	switch policy {
	case Rollback:
		return autoRollback(s, now, reason, ev)
	case PauseOn:
		return s.pause(now, reason, true, ev)
	}
	step := s.Steps[s.Step]
	limit := s.ExtendLimit
	if limit <= 0 {
		limit = max(step.MinDuration, time.Minute)
	}
	if held >= step.MinDuration+limit {
		return s.pause(now, fmt.Sprintf("%s for %s past the step's minimum; a person must decide", reason, limit), true, ev)
	}
	return unchanged(prev)
}

// autoRollback rolls back unless a contract migration forbids it, in which
// case it pauses and asks for a person.
func autoRollback(s State, now time.Time, reason string, ev json.RawMessage) (State, []Action) {
	if s.contractLocked() {
		return s.pause(now, reason+"; a contract migration ran, so belay will not roll back by itself: "+
			"roll back explicitly accepting the contract migration, or promote", true, ev)
	}
	s.RollbackTo = nil
	return s.enter(RollingBack, now, reason, ev)
}

// unchanged returns s with no transition; a verdict that changes nothing is
// not persisted (the analysis keeps its own record).
func unchanged(s State) (State, []Action) { return s, nil }
