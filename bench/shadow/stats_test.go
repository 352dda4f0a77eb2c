package main

import (
	"math"
	"testing"
)

func TestTheta1(t *testing.T) {
	if got := theta1(0.05, 0.001); math.Abs(got-0.9813) > 1e-4 {
		t.Fatalf("theta1(5 %%, 0.1 %%) = %v, want 0.9813", got)
	}
	if got := theta1(0.01, 0.01); got != 0.5 {
		t.Fatalf("theta1 of equal rates = %v, want ½", got)
	}
}

// Only "new worse" pairs: each moves the log-likelihood ratio by
// log(θ1/½) = 0.674, and log(99) = 4.595 is crossed at the 7th.
func TestPairWaldDecidesOnDiscordantPairsOnly(t *testing.T) {
	w := newPairWald(theta1(0.05, 0.001), 1)
	if w.add(6, 0) {
		t.Fatal("decided after 6 pairs")
	}
	if !w.add(5, 0) || w.Decision != 1 || w.Discordant() != 7 {
		t.Fatalf("decision %d after %d pairs; want +1 after 7", w.Decision, w.Discordant())
	}
	a := newPairWald(theta1(0.05, 0.001), 1)
	if !a.add(0, 100) || a.Decision != -1 || a.Discordant() != 2 {
		t.Fatalf("stable-worse pairs: decision %d after %d; want −1 after 2", a.Decision, a.Discordant())
	}
}

func TestMedian(t *testing.T) {
	inf := math.Inf(1)
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{1, inf}, inf}, {[]float64{1, 2, inf}, 2}} {
		if got := median(c.xs); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing must be NaN")
	}
}
