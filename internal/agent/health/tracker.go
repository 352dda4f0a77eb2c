package health

// Change is what one probe result means for an instance's place in the pool.
type Change int

// Changes a Tracker reports.
const (
	None      Change = iota
	Ready            // first success since start or since ejection: join the pool
	Unhealthy        // threshold failures in a row: leave the pool and restart
)

// Tracker turns an instance's probe results into pool changes. It is a pure
// state machine; the caller runs the probes and acts on the changes.
type Tracker struct {
	Threshold int // consecutive failures that eject; ≤0 means 3
	ready     bool
	failures  int // consecutive
}

// Observe records one probe result. counted reports whether a failure counts
// against the version: failures before an instance ever became ready are
// its start-up, not ill health.
func (t *Tracker) Observe(ok bool) (c Change, counted bool) {
	th := t.Threshold
	if th <= 0 {
		th = 3
	}
	if ok {
		t.failures = 0
		if !t.ready {
			t.ready = true
			return Ready, false
		}
		return None, false
	}
	if !t.ready {
		return None, false
	}
	t.failures++
	if t.failures >= th {
		t.ready = false
		t.failures = 0
		return Unhealthy, true
	}
	return None, true
}

// Ready reports whether the instance is in the pool.
func (t *Tracker) Ready() bool { return t.ready }

// Reset forgets the history, as after a restart.
func (t *Tracker) Reset() { t.ready, t.failures = false, 0 }
