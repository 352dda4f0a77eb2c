package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.6g, want %.6g (±%g)", what, got, want, tol)
	}
}

// Hand-computed: at ρ = 0.5, R = 2 gives θ = 2/3, so a canary event
// multiplies L by 4/3 and a stable event by 2/3.
func TestMixtureSPRTHandValues(t *testing.T) {
	m := NewMixtureSPRT([]float64{2})
	m.Update(1, 0, 0.5)
	near(t, "one canary event", m.EValue(), 4.0/3, 1e-12)
	m.Update(0, 1, 0.5)
	near(t, "then one stable event", m.EValue(), 8.0/9, 1e-12)

	// ρ = 0.2: R = 2 → θ = 1/3, L = (5/3)²; R = 4 → θ = 1/2, L = 2.5².
	m = NewMixtureSPRT([]float64{2, 4})
	m.Update(2, 0, 0.2)
	near(t, "mixture of two", m.EValue(), (25.0/9+6.25)/2, 1e-12)

	// No information at a degenerate share.
	m = NewMixtureSPRT(nil)
	m.Update(3, 0, 1)
	m.Update(0, 3, 0)
	if m.EValue() != 1 || m.Canary != 3 || m.Stable != 3 {
		t.Errorf("degenerate share: E = %v, counts %d/%d", m.EValue(), m.Canary, m.Stable)
	}
}

// A canary that is better than stable only lowers the one-sided e-value.
func TestMixtureSPRTOneSided(t *testing.T) {
	m := NewMixtureSPRT(nil)
	m.Update(0, 200, 0.05)
	if m.EValue() >= 1 {
		t.Errorf("only stable errors: E = %v, want < 1", m.EValue())
	}
	m = NewMixtureSPRT(nil)
	m.Update(10, 5, 0.05)
	if m.EValue() < 100 {
		t.Errorf("10 of 15 errors on a 5%% canary: E = %v, want ≥ 100", m.EValue())
	}
}

// U(a, b; x), the core of the Beta mixture, is checked against Simpson's rule
// (b ≥ 1 keeps the integrand finite at t = 1), then the mixture's properties.
func TestBetaMixture(t *testing.T) {
	simpson := func(a, b, x float64) float64 {
		const n = 200000
		h := (1 - x) / n
		f := func(t float64) float64 { return math.Pow(t, a-1) * math.Pow(1-t, b-1) }
		s := f(x) + f(1)
		for i := 1; i < n; i++ {
			s += float64(2+2*(i%2)) * f(x+float64(i)*h)
		}
		return s * h / 3
	}
	for _, c := range [][3]float64{{0.2, 1.8, 0.2}, {3.2, 3.8, 0.2}, {5.1, 10.9, 0.1}, {1.5, 1.5, 0.5}, {40, 300, 0.05}} {
		want := simpson(c[0], c[1], c[2])
		near(t, "U", math.Exp(logUpperBeta(c[0], c[1], c[2])), want, 1e-6*want)
	}
	if e := BetaMixtureLogE(0, 0, 0.05, 1); math.Abs(e) > 1e-12 {
		t.Errorf("no events: log E = %v, want 0", e)
	}
	if e := math.Exp(BetaMixtureLogE(10, 5, 0.05, 1)); e < 100 {
		t.Errorf("10 of 15 errors on a 5%% canary: Beta E = %v, want ≥ 100", e)
	}
	if e := math.Exp(BetaMixtureLogE(1, 400, 0.05, 1)); e >= 1 {
		t.Errorf("canary better: Beta E = %v, want < 1", e)
	}
}

func TestCombine(t *testing.T) {
	c := Combine([]float64{150, 20}, []float64{0.5, 0.5}, 0.01)
	near(t, "average", c.Average, 85, 1e-12)
	if c.Reject {
		t.Error("average 85 and max 150 < 200 must not reject at α = 1%")
	}
	c = Combine([]float64{210, 1}, nil, 0.01)
	if !c.Reject || c.MaxIndex != 0 {
		t.Errorf("a single e-value ≥ m/α must reject: %+v", c)
	}
	c = Combine([]float64{120, 100}, nil, 0.01)
	if !c.Reject {
		t.Errorf("average ≥ 1/α must reject: %+v", c)
	}
}

// Wald's boundaries at α = β = 0.01 are ±log 99, and the simulated optimum
// matches the reference's table (385, 43, 19 requests for p1 = 1, 5, 10 %).
func TestWaldOptimum(t *testing.T) {
	w := NewWald(0.001, 0.05, 0.01, 0.01)
	near(t, "upper", w.Upper, math.Log(99), 1e-12)
	near(t, "lower", w.Lower, -math.Log(99), 1e-12)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ p1, want float64 }{{0.01, 385}, {0.05, 43}, {0.10, 19}} {
		total := 0.0
		const runs = 4000
		for range runs {
			w := NewWald(0.001, c.p1, 0.01, 0.01)
			for w.Observe(rng.Float64() < c.p1) == 0 {
			}
			total += float64(w.Requests)
		}
		near(t, "mean requests", total/runs, c.want, 0.08*c.want)
	}
}

// The reference: ≈ 500 canary requests for p1 = 1 % at share 5 %.
func TestRequiredCanaryRequests(t *testing.T) {
	n := RequiredCanaryRequests(0.001, 0.001, 10, 0.05, 0.01, nil)
	if n < 300 || n > 700 {
		t.Errorf("required requests for 0.1%% → 1%% at 5%%: %d, want ≈ 500", n)
	}
	if m := RequiredCanaryRequests(0, 0.001, 10, 0.05, 0.01, nil); m != n {
		t.Errorf("floor: %d, want %d", m, n)
	}
	if m := RequiredCanaryRequests(0.001, 0.001, 50, 0.05, 0.01, nil); m >= n {
		t.Errorf("a larger minimum effect needs fewer requests: %d ≥ %d", m, n)
	}
}

// Beta mixture segments multiply: a weight change closes one and opens the next.
func TestBetaMixtureSegments(t *testing.T) {
	b := BetaMixture{K: 1}
	b.Update(3, 2, 0.2, 0.2)
	b.Update(1, 1, 0.22, 0.2) // the same segment: its realised share moved
	b.Update(1, 0, 0.5, 0.5)
	want := BetaMixtureLogE(4, 3, 0.22, 1) + BetaMixtureLogE(1, 0, 0.5, 1)
	near(t, "log E", b.LogEValue(), want, 1e-12)
	b.Update(5, 5, 0, 0) // no split: ignored
	near(t, "log E after a degenerate share", b.LogEValue(), want, 1e-12)
}
