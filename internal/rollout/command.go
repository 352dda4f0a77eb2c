package rollout

import (
	"errors"
	"fmt"
	"time"
)

// Errors a command is refused with.
var (
	ErrNotAllowed = errors.New("command not allowed")
	// ErrContract refuses a rollback past a contract migration that the
	// person did not explicitly accept.
	ErrContract = errors.New("rollback past a contract migration")
)

// Validate says whether command c may be applied to s, and if not, why and
// what to do instead. Next ignores commands Validate refuses.
func Validate(s State, c Command) error {
	if c.Actor == "" {
		return fmt.Errorf("%w: %s needs an actor (who decides)", ErrNotAllowed, c.Kind)
	}
	if s.Phase.Terminal() {
		return fmt.Errorf("%w: rollout %s already ended (%s); start a new release or rollback instead", ErrNotAllowed, s.ID, s.Phase)
	}
	notIn := func(what string) error {
		return fmt.Errorf("%w: cannot %s rollout %s in phase %s", ErrNotAllowed, what, s.ID, s.Phase)
	}
	from := s.Phase
	if s.Pause != nil && s.Phase == Paused {
		from = s.Pause.From
	}
	switch c.Kind {
	case CmdPause:
		if s.Phase == Paused || s.Phase == Migrating || s.Phase == Promoting || s.Phase == RollingBack {
			return notIn("pause")
		}
	case CmdResume:
		if s.Phase != Paused {
			return notIn("resume")
		}
	case CmdPromote:
		if from != SmokeTesting && from != Canary && from != Watching {
			return notIn("promote (the new version must be deployed and not rolling back)")
		}
	case CmdApprove:
		if s.Phase != AwaitingApproval {
			return notIn("approve")
		}
		if s.Approval != nil {
			return fmt.Errorf("%w: already approved by %s; the wait timer holds it until %s", ErrNotAllowed,
				s.Approval.Actor, s.PhaseEntered.Add(s.WaitTimer).UTC().Format(time.RFC3339))
		}
	case CmdAbort, CmdRollback:
		// abort always ends a rollout; a rollback while one runs needs a target.
		if c.Kind == CmdRollback && s.Phase == RollingBack && c.To == nil {
			return notIn(string(c.Kind))
		}
		if c.Kind == CmdAbort && from == RollingBack {
			return nil // ends it where it is: see command
		}
		if c.To != nil && c.To.Version == s.New.Version {
			return fmt.Errorf("%w: %s is the version being rolled out; name an older version", ErrNotAllowed, c.To.Version)
		}
		if s.contractLocked() && !c.AcceptContract {
			return fmt.Errorf("%w: %s ran a contract migration in %s; an older version may not work with the schema: "+
				"repeat with explicit acceptance of the contract migration, or promote", ErrContract, s.New.Version, s.Environment)
		}
	default:
		return fmt.Errorf("%w: unknown command %q", ErrNotAllowed, c.Kind)
	}
	return nil
}

// command applies a validated manual command; it is audited through the
// transition's actor and reason.
func command(s State, c Command, now time.Time) (State, []Action) {
	o := Override{Actor: c.Actor, Reason: c.Reason, At: now}
	why := c.why()
	switch c.Kind {
	case CmdPause:
		s.Pause = &Pause{From: s.Phase, Override: o}
		return s.transit(Paused, now, why, nil, c.Actor, paused)
	case CmdResume:
		from := s.Pause.From
		s.Pause = nil
		if from == Canary {
			s.StepStarted = time.Time{} // time paused does not count towards the step
		}
		return s.transit(from, now, why, nil, c.Actor, resumed)
	case CmdPromote:
		s.Pause = nil
		return s.transit(Promoting, now, why+" (analysis skipped)", nil, c.Actor)
	case CmdApprove:
		s.Approval = &o
		if until := s.PhaseEntered.Add(s.WaitTimer); now.Before(until) {
			return s.transit(AwaitingApproval, now, fmt.Sprintf("%s; the wait timer holds it until %s", why, until.UTC().Format(time.RFC3339)),
				nil, c.Actor, approvalGranted)
		}
		return s.transit(Verifying, now, why, nil, c.Actor, approvalGranted)
	case CmdAbort:
		if !s.deployed() {
			s.Pause = nil
			return s.transit(Failed, now, why+"; nothing was deployed", nil, c.Actor, failedEv)
		}
		if s.Phase == RollingBack || s.Pause != nil && s.Pause.From == RollingBack {
			// The rollback itself could not finish: a person ends the rollout
			// and takes over; traffic stays where the target has it.
			s.Pause = nil
			return s.transit(Failed, now, why+"; the rollback did not finish ("+s.Reason+"), traffic is as the target last applied it", nil, c.Actor, failedEv)
		}
	case CmdRollback:
		s.RollbackTo = c.To
		if !s.deployed() && c.To == nil {
			return s.transit(Failed, now, why+"; nothing was deployed", nil, c.Actor, failedEv)
		}
	}
	s.Pause = nil
	return s.transit(RollingBack, now, why, nil, c.Actor)
}

// why is the audit line of a command: "pause by alice: looking at logs".
func (c Command) why() string {
	w := fmt.Sprintf("%s by %s", c.Kind, c.Actor)
	if c.Reason != "" {
		w += ": " + c.Reason
	}
	return w
}

// deployed reports whether the new version may be running.
func (s State) deployed() bool {
	if s.Phase == Paused && s.Pause != nil {
		return s.Pause.From.deployed()
	}
	return s.Phase.deployed()
}
