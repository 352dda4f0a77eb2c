package analysis

import "math"

// Combined is the reference's rule for several metrics' e-values: roll back
// when their weighted average (weights summing to 1) reaches 1/α, or when any
// single one reaches m/α for m metrics. Both are valid because an average of
// e-values is an e-value, and a union bound over m metrics at level α/m.
type Combined struct {
	Average  float64 // weighted average e-value
	Max      float64 // largest single e-value
	MaxIndex int     // which metric gave Max
	Reject   bool    // the rule says roll back
}

// Combine applies the rule to e-values es with weights ws (normalised here;
// nil means equal weights) at level alpha.
func Combine(es, ws []float64, alpha float64) Combined {
	c := Combined{MaxIndex: -1}
	if len(es) == 0 {
		return c
	}
	total := 0.0
	for i := range es {
		total += weight(ws, i)
	}
	for i, e := range es {
		c.Average += weight(ws, i) / total * e
		if e > c.Max || c.MaxIndex < 0 {
			c.Max, c.MaxIndex = e, i
		}
	}
	m := float64(len(es))
	c.Reject = c.Average >= 1/alpha || c.Max >= m/alpha
	return c
}

func weight(ws []float64, i int) float64 {
	if ws == nil || i >= len(ws) {
		return 1
	}
	return ws[i]
}

// finite keeps e-values JSON-encodable (encoding/json rejects ±Inf and NaN).
func finite(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return 0
	case math.IsInf(x, 1):
		return math.MaxFloat64
	}
	return x
}
