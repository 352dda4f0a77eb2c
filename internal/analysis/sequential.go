package analysis

import "math"

// Test names the sequential test for errors and latency.
type Test string

// Sequential tests of the reference.
const (
	// TestMixtureSPRT, the default, bets on rate ratios at the canary's
	// realised share of requests (see Share), so uneven routing needs no
	// assumption.
	TestMixtureSPRT Test = "msprt"
	// TestBeta is the one-sided Beta mixture (k = BetaK); a change of the
	// configured weight closes one segment and starts the next, whose
	// e-values multiply. A segment is judged at the canary's realised share
	// over it (see Share).
	TestBeta Test = "beta"
	// TestNone switches the comparison off: only the rollback triggers
	// judge, as on a step without a stable version to compare with.
	TestNone Test = "none"
)

// BetaMixture is the one-sided Beta mixture over segments of constant weight.
type BetaMixture struct {
	K         float64 `json:"k"`
	LogClosed float64 `json:"log_closed,omitempty"` // log e-value of finished segments
	Weight    float64 `json:"weight,omitempty"`     // configured share of the open segment
	Rho       float64 `json:"rho,omitempty"`        // realised share of the open segment so far
	Canary    int64   `json:"canary_events,omitempty"`
	Stable    int64   `json:"stable_events,omitempty"`
}

// Update adds events of the segment at configured share w, whose realised
// share so far is rho.
func (b *BetaMixture) Update(xc, xs int64, rho, w float64) {
	if !(rho > 0 && rho < 1) {
		return
	}
	if w != b.Weight {
		if b.Canary+b.Stable > 0 {
			b.LogClosed += BetaMixtureLogE(b.Canary, b.Stable, b.Rho, b.K)
		}
		b.Weight, b.Canary, b.Stable = w, 0, 0
	}
	b.Rho = rho
	b.Canary += xc
	b.Stable += xs
}

// LogEValue is the log of the product of the segments' e-values.
func (b BetaMixture) LogEValue() float64 {
	if b.Canary+b.Stable == 0 {
		return b.LogClosed
	}
	return b.LogClosed + BetaMixtureLogE(b.Canary, b.Stable, b.Rho, b.K)
}

// Sequential is one one-sided test of "canary events are no more frequent
// per request than stable's", whichever test the config chose.
type Sequential struct {
	MSPRT *MixtureSPRT `json:"msprt,omitempty"`
	Beta  *BetaMixture `json:"beta,omitempty"`
}

func newSequential(cfg Config, ratios []float64) Sequential {
	if cfg.Test == TestBeta {
		return Sequential{Beta: &BetaMixture{K: cfg.BetaK}}
	}
	m := NewMixtureSPRT(ratios)
	return Sequential{MSPRT: &m}
}

// Update adds one tick's events; realised is the canary's realised share of
// requests (Share), configured the weight in force.
func (s Sequential) Update(xc, xs int64, realised, configured float64) {
	switch {
	case s.MSPRT != nil:
		s.MSPRT.Update(xc, xs, realised)
	case s.Beta != nil:
		s.Beta.Update(xc, xs, realised, configured)
	}
}

// EValue is the test's e-value (1 before any evidence).
func (s Sequential) EValue() float64 {
	switch {
	case s.MSPRT != nil:
		return s.MSPRT.EValue()
	case s.Beta != nil:
		return math.Exp(s.Beta.LogEValue())
	}
	return 1
}
