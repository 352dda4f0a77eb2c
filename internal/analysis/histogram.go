package analysis

import "math"

// Histogram bucket counts, not cumulative across buckets: Counts[i] requests
// took at most Bounds[i] seconds (and more than Bounds[i−1]); the last count,
// Counts[len(Bounds)], is the +Inf bucket. Bounds are finite so the state
// stays JSON-encodable.
type histogram struct {
	Bounds []float64
	Counts []int64
}

// normalizeHistogram accepts the two shapes target.Counters may carry:
// bounds with a trailing +Inf bound, or one bound fewer than counts.
func normalizeHistogram(bounds []float64, counts []int64) histogram {
	h := histogram{Counts: append([]int64(nil), counts...)}
	switch {
	case len(bounds) == len(counts) && len(bounds) > 0 && math.IsInf(bounds[len(bounds)-1], 1):
		h.Bounds = append([]float64(nil), bounds[:len(bounds)-1]...)
	case len(bounds) == len(counts)-1:
		h.Bounds = append([]float64(nil), bounds...)
	case len(bounds) == len(counts):
		h.Bounds = append([]float64(nil), bounds...)
		h.Counts = append(h.Counts, 0)
	default:
		return histogram{}
	}
	return h
}

// quantile follows PromQL's histogram_quantile: linear interpolation inside
// the bucket holding the rank; the highest finite bound when it falls in +Inf.
func quantile(q float64, bounds []float64, counts []int64) (float64, bool) {
	var total int64
	for _, c := range counts {
		total += c
	}
	if total == 0 || len(counts) != len(bounds)+1 || len(bounds) == 0 {
		return 0, false
	}
	rank := q * float64(total)
	var cum int64
	for i, c := range counts {
		if float64(cum+c) >= rank && c > 0 {
			if i == len(bounds) {
				return bounds[len(bounds)-1], true
			}
			lower := 0.0
			if i > 0 {
				lower = bounds[i-1]
			}
			return lower + (bounds[i]-lower)*(rank-float64(cum))/float64(c), true
		}
		cum += c
	}
	return bounds[len(bounds)-1], true
}

// bucketAt is the index of the smallest bound ≥ v, or −1 in the +Inf bucket.
func bucketAt(bounds []float64, v float64) int {
	for i, b := range bounds {
		if v <= b {
			return i
		}
	}
	return -1
}

// slower counts requests in buckets above bound index i: requests slower than bounds[i].
func slower(counts []int64, i int) int64 {
	var n int64
	for _, c := range counts[i+1:] {
		n += c
	}
	return n
}
