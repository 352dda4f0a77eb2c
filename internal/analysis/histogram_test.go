package analysis

import (
	"math"
	"testing"
)

func TestQuantileLikePromQL(t *testing.T) {
	bounds := []float64{0.1, 0.2, 0.5}
	counts := []int64{50, 30, 15, 5} // 100 requests
	cases := []struct{ q, want float64 }{
		{0.5, 0.1},                // rank 50 is the top of the first bucket
		{0.65, 0.1 + 0.1*15/30},   // halfway in the second
		{0.9, 0.2 + 0.3*10/15},    // inside the third
		{0.99, 0.5},               // in +Inf: the highest finite bound
		{0.25, 0 + 0.1*25.0/50.0}, // the first bucket interpolates from 0
	}
	for _, c := range cases {
		got, ok := quantile(c.q, bounds, counts)
		if !ok || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("q%.2f = %v (%v), want %v", c.q, got, ok, c.want)
		}
	}
	if _, ok := quantile(0.5, bounds, []int64{0, 0, 0, 0}); ok {
		t.Error("empty histogram must report no data")
	}
	if got := slower(counts, 1); got != 20 {
		t.Errorf("slower than 0.2 s = %d, want 20", got)
	}
	if bucketAt(bounds, 0.15) != 1 || bucketAt(bounds, 0.6) != -1 {
		t.Error("bucketAt")
	}
}

func TestNormalizeHistogram(t *testing.T) {
	h := normalizeHistogram([]float64{0.1, math.Inf(1)}, []int64{3, 4})
	if len(h.Bounds) != 1 || len(h.Counts) != 2 {
		t.Errorf("trailing +Inf: %+v", h)
	}
	h = normalizeHistogram([]float64{0.1}, []int64{3, 4})
	if len(h.Bounds) != 1 || h.Counts[1] != 4 {
		t.Errorf("implicit +Inf: %+v", h)
	}
	h = normalizeHistogram([]float64{0.1, 0.2}, []int64{3, 4})
	if len(h.Counts) != 3 || h.Counts[2] != 0 {
		t.Errorf("no +Inf bucket: %+v", h)
	}
	if h := normalizeHistogram([]float64{0.1}, []int64{1, 2, 3}); h.Counts != nil {
		t.Errorf("mismatched shapes must give an empty histogram: %+v", h)
	}
}
