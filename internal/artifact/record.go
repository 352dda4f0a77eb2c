package artifact

import (
	"context"
	"time"
)

// Record is what the state store keeps about a published artifact.
type Record struct {
	Digest  string    `json:"digest"`
	Version string    `json:"version"`
	Service string    `json:"service"`
	Commit  string    `json:"commit"`
	BuiltAt time.Time `json:"built_at"`
	// CommittedAt is the commit's time (what the version is dated by).
	CommittedAt time.Time `json:"committed_at"`
	Signer      string    `json:"signer"` // key id
	Dirty       bool      `json:"dirty,omitempty"`
}

// Recorder keeps records of published artifacts; internal/store satisfies it.
type Recorder interface {
	RecordArtifact(ctx context.Context, r Record) error
}
