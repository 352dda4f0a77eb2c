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
	// Leaf is the entry's leaf hash in the audit Merkle tree (audit.Leaf),
	// set by the store when it appends the entry; ignored by AppendAudit.
	Leaf []byte
}

// AuditCheckpoint is a signed checkpoint of the audit log: the tree's
// size and root, and the signed note that says so.
type AuditCheckpoint struct {
	Size int64
	Root []byte
	Note string
	At   time.Time
}
