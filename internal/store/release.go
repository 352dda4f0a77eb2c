package store

import (
	"encoding/json"
	"time"
)

// Release is one artifact moving along the promotion path with its plan.
type Release struct {
	ID        int64
	Service   string
	Version   string
	Owner     string
	Plan      json.RawMessage // the release_plan, shaped by internal/release
	CreatedAt time.Time
}
