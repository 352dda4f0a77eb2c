package store

import "time"

// StableVersion is the version an environment falls back to.
type StableVersion struct {
	Service     string
	Environment string
	Version     string
	Digest      string
	At          time.Time
	RolloutID   int64 // the rollout that made it stable; 0 when set by hand
}
