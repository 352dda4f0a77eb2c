package analysis

import "math"

// DefaultRatios are the rate ratios the mixture of SPRTs bets on: a canary
// whose events are R times as frequent per request as stable's.
var DefaultRatios = []float64{1.5, 2, 3, 5, 10, 20, 50, 100}

// MixtureSPRT is the one-sided anytime-valid test of the reference: for each
// ratio R_j it keeps the likelihood ratio of "an event came from the canary
// with probability θ_j = ρR_j/(ρR_j+1−ρ)" against "with probability ρ", and
// its e-value is the mean over j. Under H0 (canary no worse) it is a
// non-negative supermartingale, so stopping when it reaches 1/α keeps the
// false-alarm rate at or below α however often it is looked at. Log values
// keep long runs finite; the struct is JSON-serialisable for the engine.
type MixtureSPRT struct {
	Ratios []float64 `json:"ratios"`
	LogL   []float64 `json:"log_l"`
	Canary int64     `json:"canary_events"`
	Stable int64     `json:"stable_events"`
}

// DefaultLatencyRatios are the ratios for slow events: doubling the latency
// of a few percent of requests raises the share over a frozen threshold by
// a factor of 1.1 to 2, which DefaultRatios would barely bet on.
var DefaultLatencyRatios = []float64{1.1, 1.25, 1.5, 2, 3, 5}

// NewMixtureSPRT starts the test over ratios (DefaultRatios when nil).
func NewMixtureSPRT(ratios []float64) MixtureSPRT {
	if len(ratios) == 0 {
		ratios = DefaultRatios
	}
	return MixtureSPRT{Ratios: append([]float64(nil), ratios...), LogL: make([]float64, len(ratios))}
}

// Update adds xc canary and xs stable events seen while the canary's share of
// requests was rho. Events seen at a share of 0 or 1 carry no information
// about the split and are only counted.
func (m *MixtureSPRT) Update(xc, xs int64, rho float64) {
	m.Canary += xc
	m.Stable += xs
	if xc+xs == 0 || !(rho > 0 && rho < 1) {
		return
	}
	for j, r := range m.Ratios {
		theta := rho * r / (rho*r + 1 - rho)
		m.LogL[j] += float64(xc)*math.Log(theta/rho) + float64(xs)*math.Log((1-theta)/(1-rho))
	}
}

// EValue is the mixture's e-value: the mean of the per-ratio likelihood ratios.
func (m MixtureSPRT) EValue() float64 { return math.Exp(m.LogEValue()) }

// LogEValue is log(EValue), computed without overflow.
func (m MixtureSPRT) LogEValue() float64 {
	if len(m.LogL) == 0 {
		return 0
	}
	return logMeanExp(m.LogL)
}

func logMeanExp(xs []float64) float64 {
	mx := math.Inf(-1)
	for _, x := range xs {
		mx = math.Max(mx, x)
	}
	if math.IsInf(mx, -1) {
		return mx
	}
	s := 0.0
	for _, x := range xs {
		s += math.Exp(x - mx)
	}
	return mx + math.Log(s/float64(len(xs)))
}
