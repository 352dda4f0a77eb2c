package auth

import (
	"sync"
	"time"
)

// Limiter slows down guessing: each key (a client address) may fail
// authentication Burst times, then once per Every; a success does not
// reset it. The zero value is not usable: see NewLimiter.
type Limiter struct {
	burst int
	every time.Duration
	mu    sync.Mutex
	keys  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter allows burst failures at once, then one per every.
func NewLimiter(burst int, every time.Duration) *Limiter {
	return &Limiter{burst: burst, every: every, keys: map[string]*bucket{}}
}

// Blocked reports whether key has no failure left at now, and when it will.
func (l *Limiter) Blocked(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key, now)
	if b.tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - b.tokens) * float64(l.every))
}

// Failed spends one of key's failures.
func (l *Limiter) Failed(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key, now)
	b.tokens = max(0, b.tokens-1)
	if len(l.keys) > 10000 { // forget full buckets, so that the map stays bounded
		for k, v := range l.keys {
			if v.tokens >= float64(l.burst) {
				delete(l.keys, k)
			}
		}
	}
}

func (l *Limiter) refill(key string, now time.Time) *bucket {
	b, ok := l.keys[key]
	if !ok {
		b = &bucket{tokens: float64(l.burst), last: now}
		l.keys[key] = b
	}
	b.tokens = min(float64(l.burst), b.tokens+float64(now.Sub(b.last))/float64(l.every))
	b.last = now
	return b
}
