package store

import (
	"encoding/json"
	"time"
)

// AuditEntry records who did what to what, when and why.
type AuditEntry struct {
	ID      int64
	At      time.Time
	Actor   string
	Action  string // e.g. "override.promote", "approve"
	Subject string // e.g. "rollout/12"
	Reason  string
	Detail  json.RawMessage // optional
}
