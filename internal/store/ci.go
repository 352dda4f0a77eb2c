package store

import (
	"encoding/json"
	"time"
)

// CIRun is one `belay ci run` of a stage on a commit, with its evidence.
type CIRun struct {
	ID     int64
	Commit string
	Stage  string
	// Status is passed, blocked (a step whose impact blocks failed) or
	// promotion_blocked (only block_promotion steps failed).
	Status    string
	Evidence  json.RawMessage
	CreatedAt time.Time
}

// CI run statuses.
const (
	CIPassed           = "passed"
	CIBlocked          = "blocked"
	CIPromotionBlocked = "promotion_blocked"
)
