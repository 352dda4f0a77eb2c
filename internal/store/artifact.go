package store

import (
	"strings"
	"time"
)

// Artifact is an immutable build output, identified by its digest and named
// by its version (service-YYYY.MM.DD-shortsha).
type Artifact struct {
	Digest      string // "sha256:…" of the OCI manifest
	Version     string
	Service     string
	Commit      string
	BuiltAt     time.Time
	SignerKeyID string // empty when unsigned
	Dirty       bool   // built from a tree with uncommitted changes
	StoreRef    string // where the bytes are: layout path or registry reference
	// CommittedAt is the time of Commit; zero for artifacts recorded before
	// belay kept it.
	CommittedAt time.Time
}

// IsDigest reports whether ref names an artifact by digest rather than version.
func IsDigest(ref string) bool {
	algo, hex, ok := strings.Cut(ref, ":")
	return ok && algo != "" && hex != "" &&
		strings.Trim(algo, "abcdefghijklmnopqrstuvwxyz0123456789") == "" &&
		strings.Trim(hex, "0123456789abcdef") == ""
}
