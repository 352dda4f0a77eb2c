package store

import (
	"context"
	"encoding/json"
	"time"
)

// Management policies of an infrastructure resource.
const (
	// PolicyManage: belay creates, updates and deletes the resource.
	PolicyManage = "manage"
	// PolicyObserve: an imported resource belay only observes (drift), never
	// changes.
	PolicyObserve = "observe"
)

// Plan states.
const (
	PlanPending  = "pending"  // stored, not approved
	PlanApproved = "approved" // approved, not applied
	PlanApplied  = "applied"
)

// InfraResource is one resource of an environment's service stack as belay
// keeps it (see internal/infra). Specs are JSON objects of the fields belay
// owns.
type InfraResource struct {
	Environment string
	Kind        string // e.g. postgres_database
	Name        string // the external name, e.g. api_staging
	Desired     json.RawMessage
	Applied     json.RawMessage // last applied spec; empty until applied
	AppliedHash string
	Observed    json.RawMessage // last observed snapshot
	ObservedAt  time.Time
	// CreatePending is set before the provider's Create and cleared once
	// the created resource is recorded: an apply killed in between leaves
	// it set, so the next plan adopts what exists instead of guessing.
	CreatePending bool
	Protect       bool
	Policy        string // PolicyManage or PolicyObserve
	// DriftHash is the hash of the drift last reported, so that unchanged
	// drift is not reported again; empty when none was.
	DriftHash string
	// Drift is the drift found by the last recorded check (a JSON array),
	// empty when there was none.
	Drift json.RawMessage
	// DriftAck is the hash of the drift an operator acknowledged: the
	// release path's infrastructure check lets it through until the drift
	// changes (another hash) or goes.
	DriftAck  string
	UpdatedAt time.Time
}

// InfraPlan is a stored plan of an environment's infrastructure.
type InfraPlan struct {
	ID          int64
	Environment string
	Hash        string // hex SHA-256 of Body's changes, what an approval binds to
	Body        json.RawMessage
	State       string // PlanPending, PlanApproved, PlanApplied
	CreatedBy   string
	CreatedAt   time.Time
	ApprovedBy  string // the approvers, comma-separated, once approved
	ApprovedAt  time.Time
	// Approvals are the distinct approvers so far (an environment's
	// protection may ask for more than one).
	Approvals []string
	AppliedAt time.Time
}

// Infra keeps infrastructure resources and plans.
type Infra interface {
	// PutInfraResource creates or replaces the row of (r.Environment,
	// r.Kind, r.Name).
	PutInfraResource(ctx context.Context, r InfraResource) error
	// InfraResources lists env's resources by kind and name.
	InfraResources(ctx context.Context, env string) ([]InfraResource, error)
	// DeleteInfraResource removes a row (no error when there is none).
	DeleteInfraResource(ctx context.Context, env, kind, name string) error
	// CreateInfraPlan stores p (State pending) with its audit entry in one
	// transaction and returns it with its ID.
	CreateInfraPlan(ctx context.Context, p InfraPlan, audit AuditEntry) (InfraPlan, error)
	// GetInfraPlan returns plan id, or ErrNotFound.
	GetInfraPlan(ctx context.Context, id int64) (InfraPlan, error)
	// ApproveInfraPlan records `by`'s approval of a pending plan, with its
	// audit entry, in one transaction; once need distinct approvers (at
	// least 1) approved it, it is approved. An applied plan is ErrConflict,
	// an unknown one ErrNotFound; approving an approved plan again, or
	// twice by the same approver, is a no-op.
	ApproveInfraPlan(ctx context.Context, id int64, by string, need int, at time.Time, audit AuditEntry) (InfraPlan, error)
	// MarkInfraPlanApplied marks an approved plan applied, with its audit
	// entry; a plan not approved is ErrConflict.
	MarkInfraPlanApplied(ctx context.Context, id int64, at time.Time, audit AuditEntry) error
}
