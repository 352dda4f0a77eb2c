package store

import "time"

// Lease is a named claim that one process holds until it expires, so that of
// several servers on one database exactly one does a job at a time (delivers
// an event sink). The holder renews it well before ExpiresAt; a holder that
// dies stops renewing, and another takes the lease once it has expired.
type Lease struct {
	Name   string
	Holder string
	// Epoch counts the holders the lease has had: it increases each time
	// another holder takes it, never on a renewal.
	Epoch      int64
	AcquiredAt time.Time // when Holder took it
	ExpiresAt  time.Time
}
