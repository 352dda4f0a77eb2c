package replay

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestPoissonAndBinomialMoments(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, mean := range []float64{0.05, 3, 25, 400} {
		var s, s2 float64
		const n = 40000
		for range n {
			x := float64(Poisson(r, mean))
			s += x
			s2 += x * x
		}
		m := s / n
		v := s2/n - m*m
		if math.Abs(m-mean) > 4*math.Sqrt(mean/n) || math.Abs(v-mean) > 0.05*mean+0.01 {
			t.Errorf("Poisson(%v): mean %v var %v", mean, m, v)
		}
	}
	for _, c := range []struct {
		n int64
		p float64
	}{{20, 0.05}, {1000, 0.001}, {500, 0.7}} {
		var s float64
		const runs = 20000
		for range runs {
			s += float64(Binomial(r, c.n, c.p))
		}
		want := float64(c.n) * c.p
		if math.Abs(s/runs-want) > 4*math.Sqrt(want*(1-c.p)/runs)+1e-9 {
			t.Errorf("Binomial(%d, %v): mean %v, want %v", c.n, c.p, s/runs, want)
		}
	}
}

func TestStreamCounts(t *testing.T) {
	s := New(7, time.Unix(0, 0),
		Arm{Version: "stable", Rate: 190, ErrorRate: 0.001},
		Arm{Version: "canary", Rate: 10, ErrorRate: 0.05, SlowShare: 0.05, SlowFactor: 2})
	for range 600 {
		s.Advance(time.Second)
	}
	cs := s.Counters()
	if r := float64(cs[1].Requests) / 600; math.Abs(r-10) > 0.5 {
		t.Errorf("canary rate %v req/s, want 10", r)
	}
	if e := float64(cs[1].Errors) / float64(cs[1].Requests); math.Abs(e-0.05) > 0.01 {
		t.Errorf("canary error rate %v, want 5%%", e)
	}
	var sum int64
	for _, c := range cs[0].LatencyCounts {
		sum += c
	}
	if sum != cs[0].Requests || s.Now() != time.Unix(600, 0) {
		t.Errorf("histogram holds %d of %d requests; clock %v", sum, cs[0].Requests, s.Now())
	}
}
