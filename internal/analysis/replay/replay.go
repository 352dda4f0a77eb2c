// Package replay generates request streams for canary analysis: per-second
// Poisson arrivals for a stable and a canary version with given error rates
// and latency distributions, as the cumulative target.Counters a metric
// source would report. Tests and bench/detection replay them through the
// analysis with a clock they control.
package replay

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/belay-dev/belay/internal/target"
)

// DefaultBounds are client_golang's default histogram buckets, in seconds.
var DefaultBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Arm is one version's traffic.
type Arm struct {
	Version   string
	Rate      float64 // requests per second
	ErrorRate float64
	// Latency is log-normal with median Median seconds and log-sd Sigma; a
	// fraction SlowShare of requests takes SlowFactor times as long.
	Median, Sigma         float64
	SlowShare, SlowFactor float64
}

// Stream advances both arms' cumulative counters tick by tick.
type Stream struct {
	bounds []float64
	rng    *rand.Rand
	arms   []Arm
	probs  [][]float64 // per arm, per bucket (+Inf last)
	totals []target.Counters
	now    time.Time
}

// New starts a stream at t0 with the given seed and DefaultBounds.
func New(seed uint64, t0 time.Time, arms ...Arm) *Stream {
	return NewWithBounds(seed, t0, DefaultBounds, arms...)
}

// NewWithBounds is New with other histogram bounds (finite, increasing).
func NewWithBounds(seed uint64, t0 time.Time, bounds []float64, arms ...Arm) *Stream {
	s := &Stream{bounds: bounds, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), arms: arms, now: t0}
	for _, a := range arms {
		s.probs = append(s.probs, bucketProbs(a, bounds))
		s.totals = append(s.totals, target.Counters{Version: a.Version, LatencyBounds: bounds,
			LatencyCounts: make([]int64, len(bounds)+1)})
	}
	return s
}

// Tick is what one tick added to each arm.
type Tick struct {
	Requests, Errors []int64
}

// Advance moves the stream dt forward (arms at their rates; SetRate changes
// them) and returns the increases; Counters gives the new totals.
func (s *Stream) Advance(dt time.Duration) Tick {
	s.now = s.now.Add(dt)
	t := Tick{Requests: make([]int64, len(s.arms)), Errors: make([]int64, len(s.arms))}
	for i, a := range s.arms {
		mean := a.Rate * dt.Seconds()
		// Splitting a Poisson process gives independent Poisson counts per
		// bucket, and errors as an independent thinning of the requests.
		var n int64
		for b, p := range s.probs[i] {
			k := Poisson(s.rng, mean*p)
			s.totals[i].LatencyCounts[b] += k
			n += k
		}
		e := Binomial(s.rng, n, a.ErrorRate)
		s.totals[i].Requests += n
		s.totals[i].Errors += e
		s.totals[i].At = s.now
		t.Requests[i], t.Errors[i] = n, e
	}
	return t
}

// SetRate changes arm i's request rate (a weight change).
func (s *Stream) SetRate(i int, rate float64) { s.arms[i].Rate = rate }

// Counters returns copies of the cumulative counters.
func (s *Stream) Counters() []target.Counters {
	out := make([]target.Counters, len(s.totals))
	for i, c := range s.totals {
		c.LatencyCounts = append([]int64(nil), c.LatencyCounts...)
		out[i] = c
	}
	return out
}

// Now is the stream's clock.
func (s *Stream) Now() time.Time { return s.now }

// Rand is the stream's generator, for callers that need more draws in step with it.
func (s *Stream) Rand() *rand.Rand { return s.rng }

// BucketProbs is the share of an arm's requests in each bucket of DefaultBounds (+Inf last).
func BucketProbs(a Arm) []float64 { return bucketProbs(a, DefaultBounds) }

func bucketProbs(a Arm, bounds []float64) []float64 {
	if a.Median == 0 {
		a.Median, a.Sigma = 0.05, 0.6
	}
	cdf := func(x float64) float64 {
		f := func(m float64) float64 { return 0.5 * math.Erfc(-(math.Log(x/m))/(a.Sigma*math.Sqrt2)) }
		return (1-a.SlowShare)*f(a.Median) + a.SlowShare*f(a.Median*max(a.SlowFactor, 1))
	}
	p := make([]float64, len(bounds)+1)
	prev := 0.0
	for i, b := range bounds {
		c := cdf(b)
		p[i], prev = c-prev, c
	}
	p[len(bounds)] = 1 - prev
	return p
}
