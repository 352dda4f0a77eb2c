package analysis

import "math"

// Paired judges a shadow step: every mirrored request was answered by both
// versions on the same input, so each pair is concordant (both succeeded or
// both failed: nothing learnt about the difference) or discordant. Without a
// regression a discordant pair is as likely to be "the new version failed
// where stable succeeded" as the reverse; Paired tests that share θ = ½
// against θ > ½ with the same one-sided Beta mixture the canary test uses
// (BetaMixtureLogE at ρ = ½, McNemar's setting made sequential), so its
// e-value may be looked at after every pair and α still bounds the chance
// of rolling back a version that is no worse.
type Paired struct {
	K float64 // mixture concentration, as Config.BetaK
	// NewWorse counts pairs where stable succeeded and the new version failed;
	// StableWorse the reverse. Concordant pairs do not enter the test.
	NewWorse, StableWorse int64
}

// Add records one pair's outcomes (true: failed).
func (p *Paired) Add(stableFailed, newFailed bool) {
	switch {
	case newFailed && !stableFailed:
		p.NewWorse++
	case stableFailed && !newFailed:
		p.StableWorse++
	}
}

// LogEValue is the log e-value against "the new version is no worse".
func (p Paired) LogEValue() float64 {
	return BetaMixtureLogE(p.NewWorse, p.StableWorse, 0.5, p.k())
}

// Reject reports whether the evidence crosses 1/α: roll back.
func (p Paired) Reject(alpha float64) bool { return p.LogEValue() >= -math.Log(alpha) }

func (p Paired) k() float64 {
	if p.K <= 0 {
		return 1
	}
	return p.K
}
