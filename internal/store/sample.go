package store

import (
	"context"
	"time"
)

// Samples are bounded: a rollout keeps its newest MaxSamples (at one a
// second per version, the last ~15 minutes of a canary against stable),
// and only the newest MaxSampledRollouts rollouts keep any, so the table
// holds at most MaxSamples × MaxSampledRollouts rows.
const (
	MaxSamples         = 2000
	MaxSampledRollouts = 500
)

// Sample is what one version of a rollout served over an interval ending
// At: the requests and errors counted since the previous sample (of this
// rollout and version) and, when the source has a latency histogram, the
// interval's 95th percentile. The judge records them at its ticks; the
// dashboard charts them.
type Sample struct {
	RolloutID int64
	At        time.Time
	Version   string
	Requests  int64
	Errors    int64
	// P95 is in seconds; nil when the interval had no latency histogram.
	P95 *float64
}

// Samples keeps per-version measurements of rollouts over time.
type Samples interface {
	// AddSamples stores ss (each of its RolloutID), drops the oldest
	// samples of those rollouts beyond MaxSamples, and those of rollouts
	// older than the newest MaxSampledRollouts. An unknown rollout is
	// ErrNotFound; a negative count or an empty version is ErrInvalid.
	AddSamples(ctx context.Context, ss []Sample) error
	// SamplesOf lists a rollout's samples, oldest first.
	SamplesOf(ctx context.Context, rolloutID int64) ([]Sample, error)
}
