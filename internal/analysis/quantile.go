package analysis

// Quantile is the q-quantile of a latency histogram (counts per bucket of
// bounds, +Inf last), as PromQL's histogram_quantile computes it; false
// when the histogram is empty or its shape does not match bounds.
func Quantile(q float64, bounds []float64, counts []int64) (float64, bool) {
	return quantile(q, bounds, counts)
}
