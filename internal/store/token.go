package store

import "time"

// Token is an API token's record. The secret itself is never stored: Hash
// is its SHA-256, looked up when a request presents the token. Which roles
// exist and what they may do is decided by the caller; the store keeps the
// record and the audit entries of its changes together.
type Token struct {
	ID           int64
	Name         string   // unique among tokens not revoked, e.g. "ci"
	Role         string   // viewer, deployer, approver or admin (the caller validates)
	Environments []string // the environments the role applies to; empty: all
	Hash         []byte   // 32 bytes
	CreatedBy    string   // the identity that created it ("belay" for the first admin token)
	Created      time.Time
	Expires      time.Time // zero: never
	Revoked      time.Time // zero: not revoked
	RevokedBy    string
}
