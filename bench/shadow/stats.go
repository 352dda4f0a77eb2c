package main

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/belay-dev/belay/internal/analysis"
)

// theta1 is the share of "new worse" among discordant pairs when the new
// version fails at pn and stable at ps, independently: what Wald's SPRT on
// the discordant pairs is told.
func theta1(pn, ps float64) float64 {
	nw, sw := pn*(1-ps), ps*(1-pn)
	return nw / (nw + sw)
}

// pairWald is Wald's SPRT of θ = ½ against θ1 on discordant pairs (is this
// one "new worse"?), fed a tick's increase at a time: within a tick the
// pairs come in random order, as the harness cannot see their real order.
type pairWald struct {
	w     *analysis.Wald
	order *rand.Rand
	// Decision is +1 once it rejected ½ (roll back), −1 once it accepted
	// it, 0 before.
	Decision int
}

func newPairWald(th1 float64, seed uint64) *pairWald {
	return &pairWald{w: analysis.NewWald(0.5, th1, 0.01, 0.01), order: rand.New(rand.NewPCG(seed, 91))}
}

// add feeds newWorse and stableWorse more discordant pairs, stopping at a
// decision; it reports whether the test has decided.
func (p *pairWald) add(newWorse, stableWorse int64) bool {
	for n := newWorse + stableWorse; n > 0 && p.Decision == 0; n-- {
		isNew := p.order.Float64()*float64(n) < float64(newWorse)
		if isNew {
			newWorse--
		}
		p.Decision = p.w.Observe(isNew)
	}
	return p.Decision != 0
}

// Discordant is the discordant pairs the test has seen.
func (p *pairWald) Discordant() int64 { return p.w.Requests }

// median of xs; +Inf entries (never happened) count as the largest. NaN
// without values.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	a, b := s[len(s)/2-1], s[len(s)/2]
	if math.IsInf(b, 1) {
		return b
	}
	return (a + b) / 2
}

// over is f of every run.
func over[T any](runs []T, f func(T) float64) []float64 {
	out := make([]float64, len(runs))
	for i, r := range runs {
		out[i] = f(r)
	}
	return out
}

// count is the runs for which f holds.
func count[T any](runs []T, f func(T) bool) int {
	n := 0
	for _, r := range runs {
		if f(r) {
			n++
		}
	}
	return n
}
