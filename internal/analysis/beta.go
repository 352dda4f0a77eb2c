package analysis

import "math"

// BetaMixtureLogE is the log e-value of the reference's one-sided Beta
// mixture for xc canary and xs stable events at a fixed canary share rho,
// with prior Beta(kρ, k(1−ρ)) restricted to θ ≥ ρ:
//
//	E = [U(a_c+x_c, a_s+x_s; ρ) / U(a_c, a_s; ρ)] / (ρ^x_c (1−ρ)^x_s),
//	U(a, b; x) = ∫_x^1 t^(a−1) (1−t)^(b−1) dt.
//
// k ≈ 1 suits canary-sized effects (k = 100 is several times slower).
func BetaMixtureLogE(xc, xs int64, rho, k float64) float64 {
	ac, as := k*rho, k*(1-rho)
	num := logUpperBeta(ac+float64(xc), as+float64(xs), rho)
	den := logUpperBeta(ac, as, rho)
	return num - den - float64(xc)*math.Log(rho) - float64(xs)*math.Log1p(-rho)
}

// logUpperBeta is log ∫_x^1 t^(a−1)(1−t)^(b−1) dt = log B(a,b) + log I_{1−x}(b, a).
func logUpperBeta(a, b, x float64) float64 {
	return logBeta(a, b) + logRegIncBeta(b, a, 1-x)
}

func logBeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}

// logRegIncBeta is log I_x(a, b), the regularised incomplete beta function,
// by Lentz's continued fraction (Numerical Recipes §6.4) in log space so
// that thousands of events do not underflow.
func logRegIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return math.Inf(-1)
	case x >= 1:
		return 0
	}
	logFront := a*math.Log(x) + b*math.Log1p(-x) - logBeta(a, b)
	if x < (a+1)/(a+b+2) {
		return logFront - math.Log(a) + math.Log(betaCF(a, b, x))
	}
	// I_x(a,b) = 1 − I_{1−x}(b,a); the complement is small here.
	c := math.Exp(logFront - math.Log(b) + math.Log(betaCF(b, a, 1-x)))
	return math.Log1p(-c)
}

func betaCF(a, b, x float64) float64 {
	const tiny = 1e-300
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= 10000; m++ {
		fm := float64(m)
		aa := fm * (b - fm) * x / ((qam + 2*fm) * (a + 2*fm))
		d, c = 1+aa*d, 1+aa/c
		d, c = nonzero(d, tiny), nonzero(c, tiny)
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + 2*fm) * (qap + 2*fm))
		d, c = 1+aa*d, 1+aa/c
		d, c = nonzero(d, tiny), nonzero(c, tiny)
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-14 {
			break
		}
	}
	return h
}

func nonzero(v, tiny float64) float64 {
	if math.Abs(v) < tiny {
		return tiny
	}
	return v
}
