package analysis

import "math"

// DirichletMultinomialLogBF is the two-sided Bayes factor of Lindon & Malek
// for multinomial counts x against null shares rho, with a Dirichlet(k·rho)
// prior: log [B(kρ + x) / B(kρ)] − Σ x_i log ρ_i. Its reciprocal, minimised
// over time, is an anytime-valid p-value. belay uses the one-sided tests;
// this one reproduces the reference's replicable vector.
func DirichletMultinomialLogBF(x []int64, rho []float64, k float64) float64 {
	a := make([]float64, len(rho))
	ax := make([]float64, len(rho))
	lr := 0.0
	for i, r := range rho {
		a[i] = k * r
		ax[i] = a[i] + float64(x[i])
		lr += float64(x[i]) * math.Log(r)
	}
	return logMultiBeta(ax) - logMultiBeta(a) - lr
}

func logMultiBeta(a []float64) float64 {
	s, sum := 0.0, 0.0
	for _, v := range a {
		l, _ := math.Lgamma(v)
		s += l
		sum += v
	}
	l, _ := math.Lgamma(sum)
	return s - l
}
