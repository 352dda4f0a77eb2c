package store

import (
	"encoding/json"
	"time"
)

// Rollout is a release in one environment. The store does not interpret
// Phase or State: the engine owns their shape and says which phases are
// terminal.
type Rollout struct {
	ID          int64
	ReleaseID   int64
	Service     string
	Environment string
	Version     string
	RolloutState
	Seq       int64 // number of transitions so far; the optimistic lock
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RolloutState is the part of a rollout a transition changes.
type RolloutState struct {
	Phase    string
	State    json.RawMessage
	Terminal bool // no further transitions are expected (Succeeded, RolledBack, Failed)
}

// Step describes one transition: when and why, with what evidence, and the
// records that must be written with it or not at all.
type Step struct {
	At       time.Time
	Reason   string
	Evidence json.RawMessage // optional
	Effects
}

// Effects are the records a change of a rollout writes in the same
// transaction as the change itself, so that a crash keeps all or none: if
// any is refused, the change is too. Times left zero are the change's
// (Step.At, or the new rollout's CreatedAt).
type Effects struct {
	Audit *AuditEntry // optional: overrides, approvals, forced rollbacks
	// Events the change emits, stored in order at the change's time, each
	// deduplicated by its "id" as Events.AppendEvent does (optional).
	Events []json.RawMessage
	// Stable sets the environment's stable version; its RolloutID is the
	// changing rollout's (optional).
	Stable *StableVersion
	// Reject marks a version rolled back in an environment (optional).
	// RolloutID defaults to the changing rollout, and empty Service, Version
	// and Environment to those of the rollout RolloutID names.
	Reject *Rejection
	// Enqueue puts a release in the queue of an environment, as
	// Queues.Enqueue does (optional); ReleaseID defaults to the changing
	// rollout's release.
	Enqueue *QueueEntry
}

// Transition is a stored step of a rollout.
type Transition struct {
	RolloutID int64
	Seq       int64 // 1 for the first transition
	From, To  string
	At        time.Time
	Reason    string
	Evidence  json.RawMessage
}

// RolloutFilter selects rollouts; zero fields match everything.
type RolloutFilter struct {
	Active      bool  // only non-terminal rollouts
	Release     int64 // only the rollouts of this release
	Service     string
	Environment string
}
