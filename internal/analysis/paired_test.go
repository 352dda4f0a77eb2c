package analysis

import (
	"math/rand/v2"
	"testing"
)

// pairs simulates n mirrored requests with independent failures at rates
// ps (stable) and pn (new) and returns after how many pairs Paired rejects
// at alpha (0: never).
func pairedRun(r *rand.Rand, n int, ps, pn, alpha float64) int {
	var p Paired
	for i := 1; i <= n; i++ {
		before := p
		p.Add(r.Float64() < ps, r.Float64() < pn)
		// The e-value moves only on a discordant pair: looking after every
		// pair is looking after each of those.
		if p != before && p.Reject(alpha) {
			return i
		}
	}
	return 0
}

// A/A: the same failure rate on both sides, looked at after every pair of
// 12 000 (a minute at 200 req/s); false rollbacks stay within α.
func TestPairedAAKeepsAlpha(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const runs, alpha = 2000, 0.01
	rejected := 0
	for range runs {
		if pairedRun(r, 12000, 0.01, 0.01, alpha) > 0 {
			rejected++
		}
	}
	t.Logf("A/A: %d of %d runs rejected (α = %.2f)", rejected, runs, alpha)
	// α·runs = 20; the binomial's 99.9th percentile is about 35.
	if rejected > 35 {
		t.Fatalf("%d of %d A/A runs rolled back; want about α = %.0f%% at most", rejected, runs, 100*alpha)
	}
}

// A new version failing 5 % of requests against stable's 0.1 % is caught
// within a few hundred pairs, every time.
func TestPairedCatchesFivePercent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var total, worst int
	const runs = 200
	for range runs {
		n := pairedRun(r, 12000, 0.001, 0.05, 0.01)
		if n == 0 {
			t.Fatal("a 5 % failure rate was never caught in 12 000 pairs")
		}
		total += n
		worst = max(worst, n)
	}
	// Wald's SPRT on the same discordant pairs, told the true share of
	// "new worse" among them: the optimum a test without that knowledge is
	// measured against.
	theta := 0.05 * 0.999 / (0.05*0.999 + 0.001*0.95)
	var wald int
	for range runs {
		w := NewWald(0.5, theta, 0.01, 0.01)
		for i := 1; ; i++ {
			sf, nf := r.Float64() < 0.001, r.Float64() < 0.05
			if sf != nf && w.Observe(nf) != 0 || i > 12000 {
				wald += i
				break
			}
		}
	}
	t.Logf("5%% vs 0.1%%: caught after %d pairs on average, %d at worst; Wald's SPRT knowing the rates: %d on average",
		total/runs, worst, wald/runs)
	if total/runs > 600 {
		t.Fatalf("caught after %d pairs on average; want a few hundred", total/runs)
	}
}

func TestPairedCountsOnlyDiscordantPairs(t *testing.T) {
	var p Paired
	p.Add(false, false)
	p.Add(true, true)
	p.Add(false, true)
	p.Add(true, false)
	p.Add(false, true)
	if p.NewWorse != 2 || p.StableWorse != 1 {
		t.Fatalf("NewWorse %d, StableWorse %d; want 2, 1", p.NewWorse, p.StableWorse)
	}
	if (Paired{}).LogEValue() != 0 {
		t.Fatal("no evidence must give e = 1")
	}
	if p.Reject(0.01) {
		t.Fatal("2 against 1 must not reject")
	}
}
