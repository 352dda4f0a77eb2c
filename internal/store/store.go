// Package store is belay's durable state: artifacts, releases, rollouts with
// their transitions, stable versions per environment, the release queue,
// rejected versions, analysis states, approvals, API tokens, flag
// overrides, events with each event sink's deliveries, and audit entries.
// This package owns the domain types and the interfaces; backends live in
// subpackages (sqlite, postgres), the open package picks one by URL, and
// storetest is the suite every backend passes.
//
// Times are stored in UTC with microsecond precision (PostgreSQL's), so a
// value reads back equal on every backend.
package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/belay-dev/belay/internal/event"
)

// Artifacts records built artifacts; a version names one digest forever.
type Artifacts interface {
	// RecordArtifact stores a; the same version and digest again is a no-op,
	// the same version with another digest is ErrConflict naming both.
	RecordArtifact(ctx context.Context, a Artifact) error
	// GetArtifact finds an artifact by version or by digest ("sha256:…").
	GetArtifact(ctx context.Context, ref string) (Artifact, error)
	// ListArtifacts lists a service's artifacts (every service when
	// service is empty), newest build first.
	ListArtifacts(ctx context.Context, service string) ([]Artifact, error)
}

// Releases stores release plans.
type Releases interface {
	// CreateRelease stores r and returns it with its ID.
	CreateRelease(ctx context.Context, r Release) (Release, error)
	GetRelease(ctx context.Context, id int64) (Release, error)
}

// Rollouts stores rollouts and their transitions for the engine.
type Rollouts interface {
	// CreateRollout stores a new rollout at Seq 0 with the effects of its
	// creation (usually an audit entry and events) in one transaction. A
	// second non-terminal rollout of the same service and environment is
	// ErrConflict naming the running one.
	CreateRollout(ctx context.Context, r Rollout, with Effects) (Rollout, error)
	GetRollout(ctx context.Context, id int64) (Rollout, error)
	// Transition moves rollout id from expectedSeq to expectedSeq+1 with its
	// new state, appending the transition row and the step's Effects (audit
	// entry, events, stable version, rejection, queue entry) in the same
	// transaction. If the rollout is no longer at expectedSeq it changes
	// nothing and returns ErrConflict: a retried or concurrent transition is
	// never applied twice.
	Transition(ctx context.Context, id, expectedSeq int64, next RolloutState, step Step) (Rollout, error)
	ListRollouts(ctx context.Context, f RolloutFilter) ([]Rollout, error)
	// History lists the rollouts of a service in an environment, newest first.
	History(ctx context.Context, service, env string) ([]Rollout, error)
	// Transitions lists a rollout's transitions in order.
	Transitions(ctx context.Context, rolloutID int64) ([]Transition, error)
}

// Queues keeps releases waiting for a busy environment.
type Queues interface {
	// Enqueue stores a waiting entry (State is set to QueueWaiting; Service
	// defaults to the release's and must match it); with Supersede, the other
	// waiting entries of the same service and environment become
	// QueueSuperseded in the same transaction. A release already waiting for
	// the environment is not queued twice: its entry is returned.
	Enqueue(ctx context.Context, q QueueEntry) (QueueEntry, error)
	// GetQueued returns entry id, or ErrNotFound.
	GetQueued(ctx context.Context, id int64) (QueueEntry, error)
	// ListQueue lists entries, oldest first: only waiting ones when
	// waitingOnly, of one release when releaseID > 0, else all.
	ListQueue(ctx context.Context, releaseID int64, waitingOnly bool) ([]QueueEntry, error)
	// StartQueued creates r with its effects and marks waiting entry id
	// QueueStarted with r's ID, in one transaction; r's ReleaseID and
	// Environment default to the entry's and must match them. An environment
	// with an active rollout is ErrConflict and the entry keeps waiting; an
	// entry that is not waiting is ErrConflict too.
	StartQueued(ctx context.Context, id int64, r Rollout, with Effects) (Rollout, error)
	// EndQueued marks waiting entry id state (QueueCancelled or
	// QueueSuperseded) with reason, writing audit (optional) in the same
	// transaction; an entry that is not waiting is ErrConflict. The entry's
	// UpdatedAt is the audit entry's time, else the store's clock.
	EndQueued(ctx context.Context, id int64, state, reason string, audit *AuditEntry) error
}

// Rejections lists versions that were rolled back.
type Rejections interface {
	// Rejections lists where a version of service was rolled back, oldest
	// first; version "" lists every rejected version of the service. Rejections
	// are written only as Effects.Reject.
	Rejections(ctx context.Context, service, version string) ([]Rejection, error)
}

// Analyses keeps each rollout step's analysis state (the sequential test),
// so that a restarted server, on any host, resumes it.
type Analyses interface {
	// SaveAnalysis replaces the state (JSON) of a rollout's step (>= 0); an
	// unknown rollout is ErrNotFound.
	SaveAnalysis(ctx context.Context, rolloutID int64, step int, state json.RawMessage, at time.Time) error
	// LoadAnalysis returns it, or ErrNotFound.
	LoadAnalysis(ctx context.Context, rolloutID int64, step int) (json.RawMessage, error)
	// DeleteAnalyses removes a rollout's states except step keep (-1: all).
	DeleteAnalyses(ctx context.Context, rolloutID int64, keep int) error
}

// Stables tracks which version is stable in each environment.
type Stables interface {
	SetStable(ctx context.Context, s StableVersion) error
	// Stable returns the current stable version, or ErrNotFound.
	Stable(ctx context.Context, service, env string) (StableVersion, error)
	// StableHistory lists every stable version set, newest first.
	StableHistory(ctx context.Context, service, env string) ([]StableVersion, error)
	// LatestStables lists, for every service and environment, its n newest
	// stable versions, newest first within each pair, in one query.
	LatestStables(ctx context.Context, n int) ([]StableVersion, error)
}

// Events is an append-only, followable log of events.
type Events interface {
	// AppendEvent stores an event and returns its ID. IDs increase, and a
	// reader of EventsSince never sees a later ID before an earlier one.
	// An event whose data is an object with a string "id" is stored once:
	// appending it again stores nothing and returns the first one's ID, so
	// that an event re-sent after a crash is not duplicated.
	AppendEvent(ctx context.Context, data json.RawMessage, at time.Time) (int64, error)
	// EventsSince returns up to limit events with ID > after, in ID order.
	EventsSince(ctx context.Context, after int64, limit int) ([]Event, error)
}

// Sinks keeps each event sink's place in the event log: the events table
// is the outbox, and a sink's cursor and deliveries say what is left to
// send, so that a restarted server resumes where it stopped.
type Sinks interface {
	// SinkCursor returns the ID of the last event sink is done with
	// (delivered, skipped or given up). A sink seen for the first time starts
	// after the newest stored event: it is not sent the past.
	SinkCursor(ctx context.Context, sink string, at time.Time) (int64, error)
	// SkipEvents moves sink's cursor forward to after (never back), past
	// events it does not take.
	SkipEvents(ctx context.Context, sink string, after int64, at time.Time) error
	// RecordDelivery stores d, replacing the sink's earlier row for the same
	// event; a delivered or failed d moves the sink's cursor to its event in
	// the same transaction. An unknown event is ErrNotFound.
	RecordDelivery(ctx context.Context, d Delivery) error
	// Delivery returns the delivery of an event to sink, or ErrNotFound.
	Delivery(ctx context.Context, sink string, eventID int64) (Delivery, error)
	// Deliveries lists sink's deliveries in state ("": every state) in event
	// order.
	Deliveries(ctx context.Context, sink, state string) ([]Delivery, error)
}

// Leases are named claims with an expiry (see Lease). Times are the
// callers': servers sharing a database need clocks within a small fraction
// of the lease's time to live of each other.
type Leases interface {
	// AcquireLease gives lease name to holder until at+ttl when it is free,
	// expired at at, or already holder's (a renewal), and returns the lease as
	// it stands afterwards with held reporting whether holder has it.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, at time.Time) (l Lease, held bool, err error)
	// ReleaseLease ends holder's lease on name at once, so that another may
	// take it without waiting for its expiry; a lease another holds is left
	// alone.
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Approvals records approvals of releases per environment.
type Approvals interface {
	// Approve records a, with an audit entry in the same transaction; the
	// same actor approving the same release and environment again is a
	// no-op. An unknown release is ErrNotFound.
	Approve(ctx context.Context, a Approval) error
	// Approvals lists the approvals of a release in env, oldest first.
	Approvals(ctx context.Context, releaseID int64, env string) ([]Approval, error)
}

// Tokens keeps API tokens; each change is audited in its own transaction.
type Tokens interface {
	// CreateToken stores t and an audit entry (action "token.create", subject "token/<id>", actor t.CreatedBy,
	// detail JSON {name, role, environments, expires}) in one transaction and returns t with its ID.
	// A name already used by a token not revoked, or a hash already stored, is ErrConflict naming it.
	CreateToken(ctx context.Context, t Token, reason string) (Token, error)
	// TokenByHash returns the token with this hash (revoked or expired ones too: the caller says why it refuses), or ErrNotFound.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	// TokenByName returns the newest token with this name, or ErrNotFound.
	TokenByName(ctx context.Context, name string) (Token, error)
	// ListTokens returns every token, oldest first (hashes included; callers never show them).
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken marks token id revoked at `at` by `by`, with an audit entry (action "token.revoke") in the
	// same transaction; revoking a revoked token is a no-op returning it; an unknown id is ErrNotFound.
	RevokeToken(ctx context.Context, id int64, by, reason string, at time.Time) (Token, error)
}

// Flags keeps the run-time overrides of feature flags, each environment's
// flag at most one, with the audit entry and events of each change. Which
// flags, states and variants exist is belay.yaml's, checked by the caller.
type Flags interface {
	// SetFlagOverride replaces (or creates) the override of o.Environment/o.Flag, in one transaction
	// with audit (appended to the audit log like every other entry) and evs (stored events).
	SetFlagOverride(ctx context.Context, o FlagOverride, audit AuditEntry, evs []event.Event) error
	// ClearFlagOverride removes an override (no error when there is none: the audit entry still records the request).
	ClearFlagOverride(ctx context.Context, env, flag string, audit AuditEntry, evs []event.Event) error
	// FlagOverrides lists overrides, of one environment or of all when env is "".
	FlagOverrides(ctx context.Context, env string) ([]FlagOverride, error)
}

// CIRuns keeps the evidence of `belay ci run`, by commit.
type CIRuns interface {
	// RecordCIRun stores r and returns it with its ID.
	RecordCIRun(ctx context.Context, r CIRun) (CIRun, error)
	// CIRunsOf lists the runs of a commit, oldest first.
	CIRunsOf(ctx context.Context, commit string) ([]CIRun, error)
}

// Audits stores audit entries (who did what, when and why).
type Audits interface {
	AppendAudit(ctx context.Context, a AuditEntry) (int64, error)
	// AuditSince returns up to limit entries with ID > after, in ID order.
	AuditSince(ctx context.Context, after int64, limit int) ([]AuditEntry, error)
	// SealAudit fills in the leaf hashes of entries appended before the store kept them, while no checkpoint is
	// stored (afterwards a missing leaf is tampering, not age); it returns how many it filled.
	SealAudit(ctx context.Context) (int, error)
	// SaveCheckpoint stores a signed checkpoint; LatestCheckpoint returns the last stored, or ErrNotFound.
	SaveCheckpoint(ctx context.Context, c AuditCheckpoint) error
	LatestCheckpoint(ctx context.Context) (AuditCheckpoint, error)
}

// Store is everything belay keeps. Backends implement it; it is safe for
// concurrent use.
type Store interface {
	Artifacts
	Releases
	Rollouts
	Stables
	Queues
	Rejections
	Analyses
	Samples
	Approvals
	Tokens
	Flags
	CIRuns
	Events
	Sinks
	Leases
	Audits
	SLOSamples
	Close() error
}
