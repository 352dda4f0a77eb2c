package event

import (
	"errors"
	"time"
)

// Retry is when a failed delivery is tried again, and when it is given up:
// exponential backoff from Base, doubling up to Max, with jitter, until the
// event is older than GiveUpAfter (and was tried at least MinAttempts
// times), or was tried MaxAttempts times. Bounding by the event's age bounds
// a dead sink's backlog too: once it has been down longer than GiveUpAfter,
// each waiting event gets its few tries, not an hour each.
type Retry struct {
	Base, Max   time.Duration
	GiveUpAfter time.Duration
	MinAttempts int
	MaxAttempts int
}

// DefaultRetry: 1s, 2s, 4s … 5m apart; given up after an hour (about 20
// tries), or at once when the receiver rejects the event (ErrRejected).
var DefaultRetry = Retry{Base: time.Second, Max: 5 * time.Minute, GiveUpAfter: time.Hour, MinAttempts: 3, MaxAttempts: 25}

// Next decides after a failed attempt: attempts is how many were made,
// eventAt when the event happened, jitter a number in [0, 1). It returns
// when to try again, or giveUp.
func (r Retry) Next(err error, attempts int, eventAt, now time.Time, jitter float64) (at time.Time, giveUp bool) {
	switch {
	case errors.Is(err, ErrRejected):
		return time.Time{}, true
	case r.MaxAttempts > 0 && attempts >= r.MaxAttempts:
		return time.Time{}, true
	case attempts >= r.MinAttempts && now.Sub(eventAt) >= r.GiveUpAfter:
		return time.Time{}, true
	}
	d := r.Base
	for i := 1; i < attempts && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	// Half fixed, half random: receivers that failed together are not all
	// retried at the same instant.
	d = d/2 + time.Duration(jitter*float64(d/2))
	return now.Add(d), false
}
