package analysis

import (
	"math"
	"os"
	"strings"
	"testing"
)

// The reference's replicable vector: ρ = [0.8, 0.2], δ = [1.5, 2] (true
// shares ∝ ρ·e^δ), numpy seed 1, 1 500 multinomial draws, k = 100, α = 0.05
// → first stop at n = 210 with p = 0.04558. testdata/savvi-seed1.txt holds
// the draws, made with numpy 1.24 (legacy np.random.seed(1);
// np.random.multinomial(1, p, size=1500)), one category digit per draw.
func TestReplicableVector(t *testing.T) {
	raw, err := os.ReadFile("testdata/savvi-seed1.txt")
	if err != nil {
		t.Fatal(err)
	}
	draws := strings.TrimSpace(string(raw))
	if len(draws) != 1500 {
		t.Fatalf("%d draws, want 1500", len(draws))
	}
	rho := []float64{0.8, 0.2}
	x := []int64{0, 0}
	p := 1.0
	for n, d := range draws {
		x[d-'0']++
		p = math.Min(p, math.Min(1, math.Exp(-DirichletMultinomialLogBF(x, rho, 100))))
		if p <= 0.05 {
			if n+1 != 210 {
				t.Errorf("first stop at n = %d, want 210", n+1)
			}
			near(t, "p", p, 0.04558, 5e-6)
			return
		}
	}
	t.Fatal("never stopped; want n = 210")
}
