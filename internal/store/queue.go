package store

import "time"

// Queue states.
const (
	QueueWaiting    = "waiting"    // the environment was busy; started once it is free
	QueueStarted    = "started"    // its rollout exists (RolloutID)
	QueueCancelled  = "cancelled"  // a person cancelled it
	QueueSuperseded = "superseded" // a newer release of the service took its place
)

// QueueEntry is a release waiting to enter an environment that was busy when
// the release reached it.
type QueueEntry struct {
	ID          int64
	ReleaseID   int64
	Service     string
	Environment string
	State       string // QueueWaiting, QueueStarted, QueueCancelled, QueueSuperseded
	Reason      string // why it waits, or why it ended
	// Supersede, on enqueue, marks every other waiting entry of the same
	// service and environment superseded in the same transaction.
	Supersede bool
	RolloutID int64 // once started
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Rejection records that a version was rolled back in an environment: it is
// never chosen again as a previous stable.
type Rejection struct {
	Service     string
	Version     string
	Environment string
	RolloutID   int64
	Reason      string
	At          time.Time
}
