package analysis

import "math"

// Wald is Wald's SPRT of error rate p0 against p1 on one stream of requests,
// with both rates known: the optimum the sequential test is measured against
// (no test with the same error rates needs fewer requests on average).
type Wald struct {
	P0, P1      float64
	Upper       float64 // log boundary for accepting p1 (roll back): log((1−β)/α)
	Lower       float64 // log boundary for accepting p0: log(β/(1−α))
	LogLR       float64
	Requests    int64
	lErr, lGood float64
}

// NewWald sets up the SPRT with type I error alpha and type II error beta.
func NewWald(p0, p1, alpha, beta float64) *Wald {
	return &Wald{P0: p0, P1: p1,
		Upper: math.Log((1 - beta) / alpha), Lower: math.Log(beta / (1 - alpha)),
		lErr: math.Log(p1 / p0), lGood: math.Log((1 - p1) / (1 - p0))}
}

// Observe adds one request and reports +1 once the upper boundary is
// crossed (p1 accepted: roll back), −1 at the lower one (p0 accepted), 0
// while undecided.
func (w *Wald) Observe(isErr bool) int {
	w.Requests++
	if isErr {
		w.LogLR += w.lErr
	} else {
		w.LogLR += w.lGood
	}
	switch {
	case w.LogLR >= w.Upper:
		return 1
	case w.LogLR <= w.Lower:
		return -1
	}
	return 0
}
