package store

import "time"

// Delivery is one event's delivery to one sink: pending while it is
// retried, then delivered or failed (given up).
type Delivery struct {
	Sink    string
	EventID int64
	State   string
	// Attempts counts the tries so far; FirstTry is when the first began.
	Attempts int
	FirstTry time.Time
	// NextTry is when a pending delivery is tried again (zero once done).
	NextTry   time.Time
	LastError string
	UpdatedAt time.Time
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)
