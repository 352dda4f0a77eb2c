package proxy

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestQuantileWithinFewPercent(t *testing.T) {
	var s Stats
	vals := make([]float64, 20000)
	for i := range vals {
		vals[i] = math.Exp(rand.NormFloat64()*1.2 - 4) // log-normal around 18 ms
		s.latency(time.Duration(vals[i] * float64(time.Second)))
	}
	slices.Sort(vals)
	sn := s.Snapshot()
	for _, q := range []float64{0.5, 0.95, 0.99} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := Quantile(q, sn.Buckets)
		if rel := math.Abs(got-exact) / exact; rel > 0.04 {
			t.Errorf("p%.0f: got %.5f exact %.5f (%.1f%% off)", q*100, got, exact, rel*100)
		}
	}
}

func TestBucketEdges(t *testing.T) {
	for i, b := range LatencyBounds {
		if got := bucket(b); got != i {
			t.Fatalf("bound %d (%g) lands in bucket %d", i, b, got)
		}
	}
	if bucket(1e9) != numBounds || bucket(0) != 0 {
		t.Fatal("out-of-range values must land in the end buckets")
	}
}
