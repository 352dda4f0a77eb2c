package proxy

import (
	"math"
	"sync/atomic"
	"time"
)

// Latency buckets are logarithmic: bound i is 50µs·2^(i/10), up to ~105 s.
// Neighbouring bounds differ by 7.2 %, so a quantile read at a bucket's
// geometric middle is within ±3.5 % of the true value.
const (
	bucketsPerOctave = 10
	firstBound       = 50e-6
	numBounds        = 211
)

// LatencyBounds are the upper bounds, in seconds, of the latency buckets; a
// last, unbounded bucket follows them.
var LatencyBounds = func() []float64 {
	b := make([]float64, numBounds)
	for i := range b {
		b[i] = firstBound * math.Exp2(float64(i)/bucketsPerOctave)
	}
	return b
}()

// Code classes counted per version; classProxyError is a request the proxy
// could not get answered (no instance, connection failure).
const (
	classProxyError = 0
	numClasses      = 6 // proxy error, 1xx … 5xx
)

// ClassNames label the code classes in metrics.
var ClassNames = [numClasses]string{"proxy_error", "1xx", "2xx", "3xx", "4xx", "5xx"}

// Stats are one version's cumulative request measurements. The hot path only
// does atomic adds.
type Stats struct {
	classes  [numClasses]atomic.Int64
	inFlight atomic.Int64
	buckets  [numBounds + 1]atomic.Int64
}

// Snapshot is a copy of Stats at one moment.
type Snapshot struct {
	ByClass  [numClasses]int64
	Requests int64
	Errors   int64 // 5xx and proxy errors
	InFlight int64
	Buckets  []int64 // per bucket, len(LatencyBounds)+1
}

func (s *Stats) code(status int) {
	c := status / 100
	if c < 1 || c > 5 {
		c = classProxyError
	}
	s.classes[c].Add(1)
}

func (s *Stats) proxyError() { s.classes[classProxyError].Add(1) }

func (s *Stats) latency(d time.Duration) { s.buckets[bucket(d.Seconds())].Add(1) }

func bucket(sec float64) int {
	if sec <= firstBound {
		return 0
	}
	i := int(math.Ceil(bucketsPerOctave * math.Log2(sec/firstBound)))
	// Guard against rounding putting a value exactly on a bound one too high.
	if i > 0 && i <= numBounds && sec <= LatencyBounds[i-1] {
		i--
	}
	return min(i, numBounds)
}

// Snapshot reads the counters.
func (s *Stats) Snapshot() Snapshot {
	var sn Snapshot
	for i := range s.classes {
		sn.ByClass[i] = s.classes[i].Load()
		sn.Requests += sn.ByClass[i]
	}
	sn.Errors = sn.ByClass[classProxyError] + sn.ByClass[5]
	sn.InFlight = s.inFlight.Load()
	sn.Buckets = make([]int64, len(s.buckets))
	for i := range s.buckets {
		sn.Buckets[i] = s.buckets[i].Load()
	}
	return sn
}

// Quantile estimates the q-quantile (0<q<1) in seconds from per-bucket
// counts, at the geometric middle of the bucket it falls in.
func Quantile(q float64, buckets []int64) float64 {
	var total int64
	for _, c := range buckets {
		total += c
	}
	if total == 0 {
		return math.NaN()
	}
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for i, c := range buckets {
		seen += c
		if seen >= rank {
			switch {
			case i == 0:
				return firstBound
			case i >= numBounds:
				return LatencyBounds[numBounds-1]
			}
			return math.Sqrt(LatencyBounds[i-1] * LatencyBounds[i])
		}
	}
	return LatencyBounds[numBounds-1]
}
