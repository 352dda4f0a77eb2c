package analysis

import (
	"slices"
	"time"

	"github.com/belay-dev/belay/internal/target"
)

// Sample is one version's counts: either monotone totals since the analyzer
// started, or the difference between two of them.
type Sample struct {
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Latency  []int64 `json:"latency,omitempty"` // per bucket of State.Bounds, +Inf last
	Health   int64   `json:"health_failures,omitempty"`
	Restarts int64   `json:"restarts,omitempty"`
}

// minus is s − o, never below zero: a trigger window's base may hold a
// peeked total that a counter reset took back (see Track.peek).
func (s Sample) minus(o Sample) Sample {
	sub := func(x, y int64) int64 { return max(x-y, 0) }
	d := Sample{Requests: sub(s.Requests, o.Requests), Errors: sub(s.Errors, o.Errors),
		Health: sub(s.Health, o.Health), Restarts: sub(s.Restarts, o.Restarts)}
	switch {
	case len(o.Latency) == 0:
		d.Latency = slices.Clone(s.Latency)
	case len(s.Latency) == len(o.Latency):
		d.Latency = make([]int64, len(s.Latency))
		for i := range s.Latency {
			d.Latency[i] = sub(s.Latency[i], o.Latency[i])
		}
	}
	return d
}

func (s Sample) plus(o Sample) Sample {
	d := Sample{Requests: s.Requests + o.Requests, Errors: s.Errors + o.Errors,
		Health: s.Health + o.Health, Restarts: s.Restarts + o.Restarts, Latency: slices.Clone(s.Latency)}
	if len(d.Latency) == 0 {
		d.Latency = make([]int64, len(o.Latency))
	}
	if len(o.Latency) == len(d.Latency) {
		for i := range o.Latency {
			d.Latency[i] += o.Latency[i]
		}
	}
	return d
}

// Track turns one version's cumulative source counters into monotone totals:
// a counter that went down was reset (an agent or instance restart), so its
// new value is all new, as PromQL's increase() assumes.
type Track struct {
	Raw   Sample `json:"raw"`   // last cumulative values from the source
	Total Sample `json:"total"` // monotone totals since the analyzer started
}

func rawSample(c target.Counters, bounds []float64) Sample {
	s := Sample{Requests: c.Requests, Errors: c.Errors, Health: c.HealthFailures, Restarts: c.Restarts}
	if h := normalizeHistogram(c.LatencyBounds, c.LatencyCounts); slices.Equal(h.Bounds, bounds) && len(bounds) > 0 {
		s.Latency = h.Counts
	}
	return s
}

func increase(prev, cur int64) int64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// observe records cur and returns the increase since the last observation
// (Raw, set when the analyzer started, or zero for a version that had no
// series then).
func (t *Track) observe(cur Sample) Sample {
	d := t.since(cur)
	t.Total, t.Raw = t.peek(cur), cur
	return d
}

// peek is what Total would be after observe(cur), leaving t as it is.
func (t Track) peek(cur Sample) Sample {
	total := t.Total
	if len(total.Latency) == 0 {
		total.Latency = make([]int64, len(cur.Latency))
	}
	return total.plus(t.since(cur))
}

// since is cur's increase over Raw.
func (t Track) since(cur Sample) Sample {
	d := Sample{Requests: increase(t.Raw.Requests, cur.Requests), Errors: increase(t.Raw.Errors, cur.Errors),
		Health: increase(t.Raw.Health, cur.Health), Restarts: increase(t.Raw.Restarts, cur.Restarts)}
	switch {
	case len(t.Raw.Latency) == 0:
		d.Latency = slices.Clone(cur.Latency)
	case len(cur.Latency) == len(t.Raw.Latency):
		d.Latency = make([]int64, len(cur.Latency))
		for i := range cur.Latency {
			d.Latency[i] = increase(t.Raw.Latency[i], cur.Latency[i])
		}
	}
	return d
}

// Snapshot is both versions' totals at one time, kept to difference trigger windows.
type Snapshot struct {
	At     time.Time `json:"at"`
	Canary Sample    `json:"canary"`
	Stable Sample    `json:"stable"`
}

// window keeps snapshots spaced at least w/12 apart (a trigger window is
// thus between w and 13/12 w long) and drops those no longer needed: the
// newest one at or before now−w stays as the window's base. Few snapshots
// keep the persisted state small with the agent's 211 latency buckets.
func window(snaps []Snapshot, add Snapshot, w time.Duration) []Snapshot {
	if n := len(snaps); n == 0 || add.At.Sub(snaps[n-1].At) >= w/12 {
		snaps = append(snaps, add)
	}
	cut := add.At.Add(-w)
	i := 0
	for i+1 < len(snaps) && !snaps[i+1].At.After(cut) {
		i++
	}
	return snaps[i:]
}

func findCounters(cs []target.Counters, version string) (target.Counters, bool) {
	for _, c := range cs {
		if c.Version == version {
			return c, true
		}
	}
	return target.Counters{}, false
}
