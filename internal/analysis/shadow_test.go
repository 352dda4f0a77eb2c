package analysis

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/target"
)

// mirror simulates what the agent counts of mirrored pairs: cumulative
// target.ShadowCounters on the new version, as its proxy reports them.
type mirror struct {
	r        *rand.Rand
	bounds   []float64
	ps, pn   float64 // failure probabilities, stable and new
	slowdown float64 // the new version's latency factor
	c        target.ShadowCounters
}

func newMirror(seed uint64, ps, pn, slowdown float64) *mirror {
	var b []float64
	for v := 0.001; v < 20; v *= 1.25 {
		b = append(b, v)
	}
	n := len(b)
	return &mirror{r: rand.New(rand.NewPCG(seed, 7)), bounds: b, ps: ps, pn: pn, slowdown: slowdown,
		c: target.ShadowCounters{StableLatencyCounts: make([]int64, n+1), NewLatencyCounts: make([]int64, n+1),
			NewSlower: make([]int64, n), StableSlower: make([]int64, n)}}
}

func (m *mirror) bucket(sec float64) int {
	for i, b := range m.bounds {
		if sec <= b {
			return i
		}
	}
	return len(m.bounds)
}

// add simulates n pairs: latency about 20 ms, exponential, on both sides
// independently (the new version's times slowdown).
func (m *mirror) add(n int) {
	for range n {
		sf, nf := m.r.Float64() < m.ps, m.r.Float64() < m.pn
		switch {
		case sf && nf:
			m.c.BothFailed++
		case sf:
			m.c.StableFailed++
		case nf:
			m.c.NewFailed++
		default:
			m.c.BothOK++
		}
		bs := m.bucket(0.005 + m.r.ExpFloat64()*0.015)
		bn := m.bucket((0.005 + m.r.ExpFloat64()*0.015) * m.slowdown)
		m.c.StableLatencyCounts[bs]++
		m.c.NewLatencyCounts[bn]++
		for i := bs; i < bn; i++ {
			m.c.NewSlower[i]++
		}
		for i := bn; i < bs; i++ {
			m.c.StableSlower[i]++
		}
	}
	m.c.Sent += int64(n)
}

func (m *mirror) obs() Observation {
	sh := m.c
	sh.StableLatencyCounts = append([]int64(nil), m.c.StableLatencyCounts...)
	sh.NewLatencyCounts = append([]int64(nil), m.c.NewLatencyCounts...)
	sh.NewSlower = append([]int64(nil), m.c.NewSlower...)
	sh.StableSlower = append([]int64(nil), m.c.StableSlower...)
	return Observation{Counters: []target.Counters{
		{Version: "v2", LatencyBounds: m.bounds, LatencyCounts: make([]int64, len(m.bounds)+1), Shadow: &sh},
		{Version: "v1", Requests: m.c.Sent, LatencyBounds: m.bounds, LatencyCounts: make([]int64, len(m.bounds)+1)},
	}}
}

func shadowAnalyzer(t *testing.T) *Analyzer {
	t.Helper()
	a, err := New(Config{Canary: "v2", Stable: "v1", Shadow: true, MinDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// shadowRun ticks once a second with perSec pairs for up to secs seconds
// and returns the first decisive verdict and its second.
func shadowRun(t *testing.T, a *Analyzer, m *mirror, perSec, secs int) (Verdict, int) {
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	v := a.Step(m.obs(), t0)
	for s := 1; s <= secs; s++ {
		m.add(perSec)
		v = a.Step(m.obs(), t0.Add(time.Duration(s)*time.Second))
		if v.Decision != Continue {
			return v, s
		}
	}
	return v, secs
}

func TestShadowCatchesFivePercentInSeconds(t *testing.T) {
	a := shadowAnalyzer(t)
	v, s := shadowRun(t, a, newMirror(1, 0.001, 0.05, 1), 200, 60)
	if v.Decision != Fail || v.Trigger != "shadow:errors" {
		t.Fatalf("want a fail on shadow:errors; got %s at %d s: %s", v.Decision, s, v.Reason)
	}
	if s > 10 {
		t.Errorf("5 %% failures at 200 pairs/s caught after %d s; want a few", s)
	}
	ev := evidenceOf(v, "shadow:errors")
	if ev == nil || ev.NewWorse == 0 || ev.NewWorse <= ev.StableWorse || ev.CanaryN == 0 {
		t.Fatalf("evidence must carry pairs and discordant counts: %+v", ev)
	}
	if !strings.Contains(v.Reason, "failed only on v2") {
		t.Errorf("reason %q must tell the discordant counts", v.Reason)
	}
	// A rollback verdict is final.
	if again := a.Step(Observation{}, time.Now()); again.Decision != Fail {
		t.Fatalf("a failed step must stay failed, got %s", again.Decision)
	}
}

func TestShadowCatchesSlowVersion(t *testing.T) {
	a := shadowAnalyzer(t)
	v, s := shadowRun(t, a, newMirror(2, 0.001, 0.001, 3), 200, 60)
	if v.Decision != Fail || v.Trigger != "shadow:latency" {
		t.Fatalf("want a fail on shadow:latency; got %s at %d s: %s", v.Decision, s, v.Reason)
	}
	found := false
	for _, e := range v.Evidence {
		if strings.HasPrefix(e.Check, "shadow:latency>") && e.NewWorse > e.StableWorse {
			found = true
		}
	}
	if !found {
		t.Fatalf("no slow threshold with more slow pairs on the new version: %+v", v.Evidence)
	}
}

func TestShadowPassesSameVersionAfterMinDuration(t *testing.T) {
	a := shadowAnalyzer(t)
	v, s := shadowRun(t, a, newMirror(3, 0.01, 0.01, 1), 200, 120)
	if v.Decision != Pass || s != 60 {
		t.Fatalf("want a pass at the minimum duration (60 s); got %s at %d s: %s", v.Decision, s, v.Reason)
	}
	if !strings.Contains(v.Reason, "no worse than v1 on the same 12000 requests") {
		t.Errorf("reason %q must say how many pairs", v.Reason)
	}
}

func TestShadowWithoutPairsIsInconclusive(t *testing.T) {
	a := shadowAnalyzer(t)
	v, s := shadowRun(t, a, newMirror(4, 0, 0, 1), 0, 600)
	if v.Decision != Inconclusive || v.Policy != PolicyPause || s != 300 {
		t.Fatalf("want inconclusive (pause) at max duration 5m; got %s (%s) at %d s: %s", v.Decision, v.Policy, s, v.Reason)
	}
	if !strings.Contains(v.Reason, "mirrored pairs") {
		t.Errorf("reason %q must say it waited for mirrored pairs", v.Reason)
	}
}

// An agent restart begins its counters again: the step takes the new
// counts as a base, and neither loses nor invents pairs.
func TestShadowCountersBeginAgain(t *testing.T) {
	a := shadowAnalyzer(t)
	m := newMirror(5, 0, 0, 1)
	t0 := time.Now()
	a.Step(m.obs(), t0)
	m.add(100)
	a.Step(m.obs(), t0.Add(time.Second))
	m2 := newMirror(6, 0, 1, 1) // after the restart every copy fails
	m2.add(3)
	a.Step(m2.obs(), t0.Add(2*time.Second))
	if p := a.State.Pairs; p.Pairs != 100 || p.Errors.NewWorse != 0 {
		t.Fatalf("after a restart: %d pairs, %d new-worse; want 100, 0 (the restarted counts are a base)", p.Pairs, p.Errors.NewWorse)
	}
	m2.add(5)
	a.Step(m2.obs(), t0.Add(3*time.Second))
	if p := a.State.Pairs; p.Pairs != 105 || p.Errors.NewWorse != 5 {
		t.Fatalf("then: %d pairs, %d new-worse; want 105, 5", p.Pairs, p.Errors.NewWorse)
	}
}

// A/A through the whole analyzer (errors and slow thresholds combined), a
// minute at 200 pairs/s, looked at every second: false rollbacks ≤ α.
func TestShadowAAKeepsAlpha(t *testing.T) {
	runs := 2000
	if testing.Short() {
		runs = 300
	}
	rejected := 0
	for i := range runs {
		a := shadowAnalyzer(t)
		v, _ := shadowRun(t, a, newMirror(uint64(100+i), 0.01, 0.01, 1), 200, 60)
		if v.Decision == Fail {
			rejected++
		}
	}
	// α·runs = 20 at 2000; allow the binomial's 99.9th percentile.
	limit := float64(runs)*0.01 + 3.1*math.Sqrt(float64(runs)*0.01*0.99)
	t.Logf("shadow A/A: %d of %d runs rolled back (α = 1%%, limit %.0f)", rejected, runs, limit)
	if float64(rejected) > limit {
		t.Fatalf("%d of %d A/A shadow steps rolled back; want at most about α", rejected, runs)
	}
}

func evidenceOf(v Verdict, check string) *Evidence {
	for i := range v.Evidence {
		if v.Evidence[i].Check == check {
			return &v.Evidence[i]
		}
	}
	return nil
}

// A new version that keeps crashing has no instance to take copies most of
// the time; those copies are its failures, not requests that never were.
func TestShadowCountsCopiesWithNoInstance(t *testing.T) {
	a := shadowAnalyzer(t)
	m := newMirror(7, 0.001, 0.001, 1)
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	a.Step(m.obs(), t0)
	var v Verdict
	for s := 1; s <= 60 && v.Decision != Fail; s++ {
		m.add(20) // the few copies sent while an instance was up
		if m.c.Dropped == nil {
			m.c.Dropped = map[string]int64{}
		}
		m.c.Dropped["no_instance"] += 180
		v = a.Step(m.obs(), t0.Add(time.Duration(s)*time.Second))
	}
	if v.Decision != Fail || v.Trigger != "shadow:errors" || !strings.Contains(v.Reason, "found no healthy instance of v2") {
		t.Fatalf("a crashing shadow version was not rolled back: %s: %s", v.Decision, v.Reason)
	}
	if e := evidenceOf(v, "shadow:unserved"); e == nil || e.Canary == 0 {
		t.Fatalf("no unserved evidence: %+v", v.Evidence)
	}
}

// The slow thresholds of a shadow step are never below its floor (250 ms),
// for copies are timed on another path than users' answers.
func TestShadowSlowThresholdsHaveAFloor(t *testing.T) {
	a := shadowAnalyzer(t)
	shadowRun(t, a, newMirror(8, 0, 0, 1), 200, 5)
	if len(a.State.Thresholds) == 0 {
		t.Fatal("no thresholds frozen")
	}
	for _, th := range a.State.Thresholds {
		if th < 0.25 {
			t.Errorf("threshold %gs below the 250 ms floor", th)
		}
	}
}
