package replay

import (
	"math"
	"math/rand/v2"
)

// Poisson draws from a Poisson distribution: Knuth's product method for
// small means, Hörmann's PTRS transformed rejection otherwise.
func Poisson(r *rand.Rand, mean float64) int64 {
	switch {
	case mean <= 0:
		return 0
	case mean < 10:
		l, k, p := math.Exp(-mean), int64(0), r.Float64()
		for p > l {
			k++
			p *= r.Float64()
		}
		return k
	}
	slam := math.Sqrt(mean)
	loglam := math.Log(mean)
	b := 0.931 + 2.53*slam
	a := -0.059 + 0.02483*b
	invalpha := 1.1239 + 1.1328/(b-3.4)
	vr := 0.9277 - 3.6224/(b-2)
	for {
		u := r.Float64() - 0.5
		v := r.Float64()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + mean + 0.43)
		if us >= 0.07 && v <= vr {
			return int64(k)
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(invalpha)-math.Log(a/(us*us)+b) <= -mean+k*loglam-lg {
			return int64(k)
		}
	}
}

// Binomial draws k successes in n trials of probability p exactly, by
// geometric skips between successes: O(n·min(p, 1−p)) work, cheap for error rates.
func Binomial(r *rand.Rand, n int64, p float64) int64 {
	if n <= 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	if p > 0.5 {
		return n - Binomial(r, n, 1-p)
	}
	// Geometric skips: the gap to the next success is Geometric(p).
	lq := math.Log1p(-p)
	var k, i int64
	for {
		i += int64(math.Floor(math.Log(1-r.Float64())/lq)) + 1
		if i > n {
			return k
		}
		k++
	}
}
