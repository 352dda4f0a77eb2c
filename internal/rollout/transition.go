package rollout

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/target"
)

// Event types a transition emits beyond the phase's own.
const (
	started          = event.DeploymentStarted
	approvalRequired = event.ApprovalRequired
	approvalGranted  = event.ApprovalGranted
	canaryStep       = event.CanaryStep
	promoted         = event.DeploymentPromoted
	rolledBack       = event.DeploymentRolledBack
	failedEv         = event.DeploymentFailed
	paused           = event.DeploymentPaused
	resumed          = event.DeploymentResumed
)

// enter moves s to phase p: the events named (phase_changed when none), then
// the phase's entry actions, become the pending actions.
func (s State) enter(p Phase, now time.Time, reason string, evidence json.RawMessage, events ...string) (State, []Action) {
	return s.transit(p, now, reason, evidence, "", events...)
}

func (s State) transit(p Phase, now time.Time, reason string, evidence json.RawMessage, actor string, events ...string) (State, []Action) {
	if p != s.Phase {
		s.PhaseEntered = now
	}
	s.Phase, s.Reason = p, reason
	s.Seq++
	if len(events) == 0 {
		events = []string{event.PhaseChanged}
	}
	var acts []Action
	for i, kind := range events {
		e := s.event(kind, now, actor, evidence)
		e.ID = fmt.Sprintf("%s/%d/%d", s.ID, s.Seq, i)
		acts = append(acts, Action{Kind: Emit, Event: &e})
	}
	acts = append(acts, s.entryActions()...)
	s.Pending = acts
	return s, acts
}

// settle records that the pending actions are done without changing phase.
func (s State) settle(now time.Time, reason string) (State, []Action) {
	s.Reason = reason
	s.Pending = nil
	s.Seq++
	return s, nil
}

// pause stops the rollout where it is, remembering the phase to resume.
func (s State) pause(now time.Time, reason string, needsHuman bool, evidence json.RawMessage) (State, []Action) {
	from := s.Phase
	if from == Paused {
		from = s.Pause.From
	}
	s.Pause = &Pause{From: from, Override: Override{Actor: "belay", Reason: reason, At: now}, NeedsHuman: needsHuman}
	return s.enter(Paused, now, reason, evidence, paused)
}

// entryActions are what a phase needs done; re-running them is harmless.
func (s State) entryActions() []Action {
	switch s.Phase {
	case Verifying:
		return []Action{{Kind: Verify}}
	case InfrastructurePlan:
		return []Action{{Kind: CheckInfra}}
	case Migrating:
		return []Action{{Kind: RunHooks}}
	case Deploying:
		d := s.weights(0)
		return []Action{{Kind: StartVersion, Desired: &d}}
	case SmokeTesting:
		return []Action{{Kind: RunSmoke}}
	case Canary:
		step := s.Steps[s.Step]
		d := s.weights(step.Weight)
		if step.Paired() && s.Stable != nil {
			d.Shadow = s.mirror(step)
		}
		return []Action{{Kind: SetWeights, Desired: &d}}
	case Watching:
		// All traffic on the new version; the previous stable stays started
		// with none (KeepPrevious), so a rollback is a weight change.
		d := s.weights(100)
		if !s.KeepPrevious {
			d = s.desired(withWeight(s.New, 100))
		}
		return []Action{{Kind: SetWeights, Desired: &d}}
	case Promoting:
		// The transition to Succeeded records the new version as stable.
		d := s.desired(withWeight(s.New, 100))
		return s.withPostHooks([]Action{{Kind: StopVersion, Desired: &d}})
	case RollingBack:
		return s.withPostHooks(s.rollbackActions())
	}
	return nil
}

// withPostHooks runs the post_promote or post_rollback hooks once traffic
// is where the phase puts it; a failing one pauses the rollout for a person
// (traffic stays as it is).
func (s State) withPostHooks(acts []Action) []Action {
	if s.PostHooks {
		acts = append(acts, Action{Kind: RunHooks})
	}
	return acts
}

// RollbackTarget is the version a rollback returns traffic to: RollbackTo,
// else the previous stable; nil for a first release, which is stopped.
func (s State) RollbackTarget() *target.Version {
	if s.RollbackTo != nil {
		return s.RollbackTo
	}
	return s.Stable
}

// rollbackActions return traffic to the rollback target; the transition to
// RolledBack records it as stable when it is not the previous stable.
//
// The rollback's flag changes run where rollback_action puts them, before
// or after traffic moves.
func (s State) rollbackActions() []Action {
	var traffic Action
	if to := s.RollbackTarget(); to == nil { // a first release: nothing to return to, so stop it
		d := s.desired()
		traffic = Action{Kind: StopVersion, Desired: &d}
	} else {
		d := s.desired(withWeight(*to, 100))
		traffic = Action{Kind: SetWeights, Desired: &d}
	}
	var acts []Action
	moved := false
	for _, st := range s.RollbackSteps {
		switch {
		case st.Flag != nil:
			acts = append(acts, Action{Kind: SetFlag, Flag: st.Flag})
		case st.Deploy && !moved:
			acts, moved = append(acts, traffic), true
		}
	}
	if !moved {
		acts = append(acts, traffic)
	}
	return acts
}

// mirror is the shadow a paired step asks the target for: copies of
// the step's share of stable's requests, or a replay, to the new version.
func (s State) mirror(step Step) *target.Shadow {
	m := target.Shadow{}
	if s.Mirror != nil {
		m = *s.Mirror
	}
	m.Version, m.Share, m.Replay = s.New.Version, step.Shadow, step.Replay
	if step.Replay != "" {
		m.Share = 100
	} else { // replay settings mean nothing to live copies
		m.ReplayRate, m.DropHeaders = 0, nil
	}
	return &m
}

// weights is the new version at w % beside the previous stable; a first
// release has nothing beside it and takes all traffic.
func (s State) weights(w float64) target.Desired {
	if s.Stable == nil {
		return s.desired(withWeight(s.New, 100))
	}
	return s.desired(withWeight(*s.Stable, 100-w), withWeight(s.New, w))
}

func (s State) desired(vs ...target.Version) target.Desired {
	d := s.Base
	d.Environment, d.Service = s.Environment, s.Service
	d.Versions = vs
	if d.Versions == nil {
		d.Versions = []target.Version{}
	}
	return d
}

func withWeight(v target.Version, w float64) target.Version {
	v.Weight = w
	return v
}

func (s State) event(kind string, now time.Time, actor string, evidence json.RawMessage) event.Event {
	e := event.Event{
		Event: kind, Time: now, Service: s.Service, Version: s.New.Version, Environment: s.Environment,
		Release: s.Release, Rollout: s.ID, Phase: string(s.Phase), Reason: s.Reason, Actor: actor,
		Digest: s.New.Artifact, Evidence: evidence, HealthStatus: "unknown",
	}
	if s.Stable != nil {
		e.PreviousStable = s.Stable.Version
	}
	switch s.Phase {
	case Canary:
		e.Reason = fmt.Sprintf("step %d/%d: %s: %s", s.Step+1, len(s.Steps), s.Steps[s.Step], s.Reason)
	case Watching:
		e.Reason = fmt.Sprintf("watch %s: %s", s.Watch, s.Reason)
	}
	if v := s.LastVerdict; v != nil {
		switch v.Decision {
		case analysis.Fail:
			e.HealthStatus = "failing"
		case analysis.Pass, analysis.Continue:
			e.HealthStatus = "passing"
		}
		e.ErrorRate, e.P95LatencyMS = measured(v.Evidence)
	}
	return e
}

// measured picks the canary's error rate (percent, as the seed's events say
// it) and p95 latency (ms) out of a verdict's evidence, which the analysis
// gives as a fraction and in seconds.
func measured(ev []analysis.Evidence) (errRate, p95ms *float64) {
	for _, x := range ev {
		if x.State == "no_data" {
			continue // a trigger without data says nothing about the rate
		}
		v := x.Canary
		switch {
		case errRate == nil && (x.Check == "sequential:errors" || strings.HasPrefix(x.Check, "error_rate")):
			pct := v * 100
			errRate = &pct
		case p95ms == nil && strings.HasPrefix(x.Check, "p95_latency"):
			ms := v * 1000
			p95ms = &ms
		}
	}
	return errRate, p95ms
}
