package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/target"
)

// Errors a Store reports.
var (
	ErrConflict = errors.New("rollout changed concurrently") // expectedSeq is not the stored Seq
	ErrNotFound = errors.New("rollout not found")
)

// Store persists rollouts. Transition is atomic: the new state and its
// transition record are stored together, or neither is.
type Store interface {
	// Active lists every rollout whose State.Active() is true.
	Active(ctx context.Context) ([]State, error)
	Get(ctx context.Context, id string) (State, error)
	// Transition replaces rollout id's state when its stored Seq is
	// expectedSeq (else ErrConflict) and appends t to its history.
	Transition(ctx context.Context, id string, expectedSeq int64, next State, t Transition) error
}

// Transition is one persisted step of a rollout's history: what moved it,
// who (for overrides) and on what evidence. It doubles as the audit entry.
type Transition struct {
	Rollout  string            `json:"rollout"`
	Seq      int64             `json:"seq"` // the Seq of the new state
	At       time.Time         `json:"at"`
	From     Phase             `json:"from"`
	To       Phase             `json:"to"`
	Step     int               `json:"step"`
	Cause    ObservationKind   `json:"cause"`
	Command  CommandKind       `json:"command,omitempty"`
	Actor    string            `json:"actor,omitempty"`
	Override bool              `json:"override,omitempty"` // a person's command
	Reason   string            `json:"reason,omitempty"`
	Action   ActionKind        `json:"action,omitempty"` // the action that failed
	Evidence json.RawMessage   `json:"evidence,omitempty"`
	Verdict  *analysis.Verdict `json:"verdict,omitempty"`
	Actions  []ActionKind      `json:"actions,omitempty"` // what the new state asks to run
	// Stable is the version that becomes the environment's stable with
	// this transition: the new one on Succeeded, the rollback's target on
	// RolledBack when it is not the previous stable.
	Stable *target.Version `json:"stable,omitempty"`
	// Rejected is the version rolled back by this transition.
	Rejected string `json:"rejected,omitempty"`
	// Events are the events the transition emits, stored with it (their
	// IDs are kept in Emitted, in the transition's own record).
	Events  []event.Event `json:"-"`
	Emitted []string      `json:"emitted,omitempty"`
}

// Record describes the move from prev to next caused by obs, and returns
// next without its Emit actions: events are part of the transition, stored
// in the same transaction as the state, never actions run afterwards.
func Record(prev, next State, obs Observation, at time.Time) (State, Transition) {
	t := Transition{
		Rollout: next.ID, Seq: next.Seq, At: at.UTC(), From: prev.Phase, To: next.Phase, Step: next.Step,
		Cause: obs.Kind, Reason: next.Reason, Action: obs.Action, Evidence: obs.Evidence, Verdict: obs.Verdict,
	}
	if c := obs.Command; c != nil {
		t.Command, t.Actor, t.Override = c.Kind, c.Actor, true
	}
	var keep []Action
	for _, a := range next.Pending {
		if a.Kind == Emit {
			t.Events = append(t.Events, *a.Event)
			t.Emitted = append(t.Emitted, a.Event.ID)
			continue
		}
		keep = append(keep, a)
		t.Actions = append(t.Actions, a.Kind)
	}
	next.Pending = keep
	if prev.Phase != next.Phase {
		switch next.Phase {
		case Succeeded:
			v := next.New
			t.Stable = &v
		case RolledBack:
			if to := next.RollbackTo; to != nil {
				v := *to
				t.Stable = &v
			}
			t.Rejected = next.New.Version
		}
	}
	return next, t
}
