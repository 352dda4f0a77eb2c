package analysis

import "math"

// RequiredCanaryRequests is how many canary requests a step must see before
// a pass means something: the smallest n for which the mixture test, fed the
// expected counts of a regressed canary (error rate p1 = ratio × p0 on the
// canary, p0 on stable, canary share rho), reaches 1/α. It is the median
// detection sample size for that minimum effect — a canary that regressed by
// at least that much would most likely have been rolled back by then.
// p0 is floored at floor so that a spotless stable still asks for traffic.
func RequiredCanaryRequests(p0, floor, ratio, rho, alpha float64, ratios []float64) int64 {
	p0 = math.Max(p0, floor)
	p1 := math.Min(ratio*p0, 1)
	if !(rho > 0 && rho < 1) || p1 <= p0 {
		return math.MaxInt64
	}
	reached := func(n int64) bool {
		m := NewMixtureSPRT(ratios)
		stableN := float64(n) * (1 - rho) / rho
		// Expected counts are fractional; the log-likelihood is linear in them.
		for j, r := range m.Ratios {
			theta := rho * r / (rho*r + 1 - rho)
			m.LogL[j] = float64(n)*p1*math.Log(theta/rho) + stableN*p0*math.Log((1-theta)/(1-rho))
		}
		return m.LogEValue() >= math.Log(1/alpha)
	}
	lo, hi := int64(1), int64(1)
	for !reached(hi) {
		if hi > 1<<40 {
			return math.MaxInt64
		}
		lo, hi = hi, hi*2
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if reached(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi
}
