package main

import "math"

// flagger is a Flagger-style fixed-interval analysis: every Interval ticks it
// checks the canary's success rate over the last interval (≥ MinSuccess)
// and, when set, its p99 latency (≤ MaxP99); a check without requests fails,
// as Flagger treats "no values found" as a failed check. It rolls back at
// Threshold failed checks.
type flagger struct {
	Interval   int // seconds
	Threshold  int
	MinSuccess float64
	MaxP99     float64 // seconds; 0 disables the latency check
	Bounds     []float64

	elapsed             int
	reqs, errs          int64
	lat                 []int64
	Failed              int // failed checks so far
	Checks              int
	DoneAt              int // seconds at rollback, 0 while running
	ErrorsAt, RequestsN int64
	totalReqs, totalErr int64
}

// tick adds one second of canary traffic (with its latency bucket counts).
func (f *flagger) tick(reqs, errs int64, lat []int64) bool {
	if f.DoneAt > 0 {
		return true
	}
	f.elapsed++
	f.reqs += reqs
	f.errs += errs
	f.totalReqs += reqs
	f.totalErr += errs
	if f.lat == nil {
		f.lat = make([]int64, len(lat))
	}
	for i := range lat {
		f.lat[i] += lat[i]
	}
	if f.elapsed%f.Interval != 0 {
		return false
	}
	f.Checks++
	ok := f.reqs > 0 && 1-float64(f.errs)/float64(f.reqs) >= f.MinSuccess
	if ok && f.MaxP99 > 0 {
		ok = p99(f.Bounds, f.lat) <= f.MaxP99
	}
	if !ok {
		f.Failed++
	}
	f.reqs, f.errs = 0, 0
	clear(f.lat)
	if f.Failed >= f.Threshold {
		f.DoneAt, f.ErrorsAt, f.RequestsN = f.elapsed, f.totalErr, f.totalReqs
		return true
	}
	return false
}

// p99 is histogram_quantile(0.99) over per-bucket counts (+Inf last).
func p99(bounds []float64, counts []int64) float64 {
	var total int64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return math.Inf(1)
	}
	rank, cum := 0.99*float64(total), int64(0)
	for i, c := range counts {
		if float64(cum+c) >= rank && c > 0 {
			if i == len(bounds) {
				return bounds[len(bounds)-1]
			}
			lo := 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			return lo + (bounds[i]-lo)*(rank-float64(cum))/float64(c)
		}
		cum += c
	}
	return bounds[len(bounds)-1]
}
