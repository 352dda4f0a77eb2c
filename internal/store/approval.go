package store

import "time"

// Approval lets a release into an environment that requires one. Who may
// approve (no self-approval, roles) is decided by the caller; the store
// keeps the record and its audit entry together.
type Approval struct {
	ReleaseID   int64
	Environment string
	Actor       string
	Reason      string
	At          time.Time
}
