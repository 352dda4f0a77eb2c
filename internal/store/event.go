package store

import (
	"encoding/json"
	"time"
)

// Event is a stored event; Data is its JSON (internal/event's shape).
type Event struct {
	ID   int64
	At   time.Time
	Data json.RawMessage
}
