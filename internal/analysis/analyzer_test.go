package analysis_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/replay"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target"
)

var t0 = time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)

func triggers(t testing.TB, lines ...string) []analysis.TriggerConfig {
	t.Helper()
	var out []analysis.TriggerConfig
	for _, l := range lines {
		tr, err := spec.ParseTrigger(l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, analysis.TriggerConfig{Trigger: tr})
	}
	return out
}

func newAnalyzer(t testing.TB, cfg analysis.Config) *analysis.Analyzer {
	t.Helper()
	if cfg.Canary == "" {
		cfg.Canary, cfg.Stable = "canary", "stable"
	}
	a, err := analysis.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// run replays a stream through a at 1 s ticks until a decision other than
// Continue or until limit, returning the verdict and the ticks taken.
func run(a *analysis.Analyzer, s *replay.Stream, weight float64, limit int) (analysis.Verdict, int) {
	v := a.Step(analysis.Observation{Counters: s.Counters(), Weight: weight}, s.Now())
	for i := 1; i <= limit; i++ {
		s.Advance(time.Second)
		v = a.Step(analysis.Observation{Counters: s.Counters(), Weight: weight}, s.Now())
		if v.Decision != analysis.Continue {
			return v, i
		}
	}
	return v, limit
}

func arms(canaryRate, p0, p1 float64) []replay.Arm {
	return []replay.Arm{
		{Version: "stable", Rate: canaryRate * 19, ErrorRate: p0},
		{Version: "canary", Rate: canaryRate, ErrorRate: p1},
	}
}

func evidence(v analysis.Verdict, check string) (analysis.Evidence, bool) {
	for _, e := range v.Evidence {
		if e.Check == check {
			return e, true
		}
	}
	return analysis.Evidence{}, false
}

// p0 = 0.1 % → p1 = 5 % at 10 canary req/s: rolled back within seconds,
// by the sequential test, with its numbers in the evidence.
func TestDetectsErrorRegression(t *testing.T) {
	var ticks []int
	for seed := range uint64(20) {
		a := newAnalyzer(t, analysis.Config{MinDuration: time.Minute})
		v, n := run(a, replay.New(seed, t0, arms(10, 0.001, 0.05)...), 5, 600)
		if v.Decision != analysis.Fail || v.Trigger != "sequential:errors" {
			t.Fatalf("seed %d: %s %q after %d s, want fail by sequential:errors", seed, v.Decision, v.Reason, n)
		}
		e, ok := evidence(v, "sequential:errors")
		if !ok || e.Statistic < 100 || e.State != analysis.StateFiring || e.CanaryN == 0 {
			t.Fatalf("evidence %+v", e)
		}
		ticks = append(ticks, n)
	}
	if med := median(ticks); med > 15 {
		t.Errorf("median detection %d s, want ≤ 15 s (≈ 63 requests at 10 req/s)", med)
	}
}

func median(xs []int) int {
	s := append([]int(nil), xs...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

// A healthy canary passes once the minimum duration has passed and it saw
// enough requests to have caught the minimum effect, not before.
func TestPassesHealthyCanaryAfterPowerAndDuration(t *testing.T) {
	a := newAnalyzer(t, analysis.Config{MinDuration: 30 * time.Second})
	v, n := run(a, replay.New(1, t0, arms(10, 0.001, 0.001)...), 5, 600)
	if v.Decision != analysis.Pass {
		t.Fatalf("%s: %s", v.Decision, v.Reason)
	}
	pw, _ := evidence(v, "power")
	if n < 30 || pw.State != analysis.StatePassed || pw.CanaryN < int64(pw.Threshold) {
		t.Errorf("passed after %d s with power %+v", n, pw)
	}
	if pw.Threshold < 300 || pw.Threshold > 700 {
		t.Errorf("required canary requests %v, want ≈ 500 for 0.1 %% → 1 %%", pw.Threshold)
	}
}

func TestLowTrafficIsInconclusiveWithPolicy(t *testing.T) {
	a := newAnalyzer(t, analysis.Config{MinDuration: time.Minute, MaxDuration: 2 * time.Minute, OnLowTraffic: analysis.PolicyRollback})
	v, n := run(a, replay.New(1, t0, arms(0.2, 0.001, 0.001)...), 5, 600)
	if v.Decision != analysis.Inconclusive || v.Policy != analysis.PolicyRollback || n != 120 {
		t.Fatalf("after %d s: %s %s %q", n, v.Decision, v.Policy, v.Reason)
	}
	if !strings.Contains(v.Reason, "traffic") {
		t.Errorf("reason %q should name the missing traffic", v.Reason)
	}
}

// Metrics that stop answering hold the step for the grace (5 s), then make
// it inconclusive with the on_unavailable policy; it never passes, and a
// source that answers again resets the grace.
func TestMetricsUnavailableNeverPasses(t *testing.T) {
	a := newAnalyzer(t, analysis.Config{})
	s := replay.New(1, t0, arms(50, 0.001, 0.001)...)
	run(a, s, 5, 30)
	down := analysis.Observation{Err: fmt.Errorf("%w: prometheus: connection refused", analysis.ErrNoData), Weight: 5}
	for outage := range 3 {
		for i := range 100 {
			s.Advance(time.Second)
			v := a.Step(down, s.Now())
			if !strings.Contains(v.Reason, "metrics unavailable") {
				t.Fatalf("outage %d, %d s: %s %q", outage, i, v.Decision, v.Reason)
			}
			want := analysis.Inconclusive
			if i < 5 { // reads 0 s to 4 s into the outage are within the 5 s grace
				want = analysis.Continue
			}
			if v.Decision != want || want == analysis.Inconclusive && v.Policy != analysis.PolicyPause {
				t.Fatalf("outage %d, %d s: %s %s %q, want %s", outage, i, v.Decision, v.Policy, v.Reason, want)
			}
			if outage > 0 && i == 5 {
				break // short outages: the source answers again below
			}
		}
		s.Advance(time.Second)
		if v := a.Step(analysis.Observation{Counters: s.Counters(), Weight: 5}, s.Now()); v.Decision == analysis.Inconclusive {
			t.Fatalf("the source answers again, still %s %q", v.Decision, v.Reason)
		}
	}
}

func TestTriggerFiresWithFor(t *testing.T) {
	// Canary and stable equally bad: the comparison stays quiet, the absolute trigger fires.
	a := newAnalyzer(t, analysis.Config{Triggers: triggers(t, "error_rate > 1% for 30s"), Window: 10 * time.Second})
	v, n := run(a, replay.New(3, t0, arms(20, 0.04, 0.04)...), 5, 600)
	if v.Decision != analysis.Fail || v.Trigger != "error_rate > 1% for 30s" {
		t.Fatalf("%s %q", v.Decision, v.Reason)
	}
	if n < 30 || n > 45 {
		t.Errorf("fired after %d s, want just after 30 s of pending", n)
	}
	e, _ := evidence(v, "error_rate > 1% for 30s")
	if e.State != analysis.StateFiring || e.Canary < 0.01 || e.Threshold != 0.01 {
		t.Errorf("evidence %+v", e)
	}
	// The verdict is final: later observations do not change it.
	if again := a.Step(analysis.Observation{Weight: 5}, t0.Add(time.Hour)); !reflect.DeepEqual(again, v) {
		t.Errorf("final verdict changed: %+v", again)
	}
}

func counters(version string, req, errs int64, lat []int64, health int64) target.Counters {
	return target.Counters{Version: version, Requests: req, Errors: errs, HealthFailures: health,
		LatencyBounds: []float64{0.05, 0.1, 0.25}, LatencyCounts: lat}
}

// Hand-made counters: a relative latency trigger against stable's p95.
func TestRelativeLatencyTrigger(t *testing.T) {
	a := newAnalyzer(t, analysis.Config{Triggers: triggers(t, "p95_latency > baseline + 20%")})
	obs := func(stable, canary target.Counters) analysis.Observation {
		return analysis.Observation{Counters: []target.Counters{stable, canary}, Weight: 5}
	}
	a.Step(obs(counters("stable", 1000, 0, []int64{1000, 0, 0, 0}, 0), counters("canary", 0, 0, []int64{0, 0, 0, 0}, 0)), t0)
	v := a.Step(obs(counters("stable", 1380, 0, []int64{1380, 0, 0, 0}, 0), counters("canary", 20, 0, []int64{0, 20, 0, 0}, 0)), t0.Add(time.Second))
	if v.Decision != analysis.Fail || v.Trigger != "p95_latency > baseline + 20%" {
		t.Fatalf("%s %q", v.Decision, v.Reason)
	}
	e, _ := evidence(v, "p95_latency > baseline + 20%")
	// Stable's p95 interpolates to 0.0475 s in (0, 0.05]; canary's to 0.0975 s in (0.05, 0.1].
	if math.Abs(e.Baseline-0.0475) > 1e-12 || math.Abs(e.Threshold-0.057) > 1e-12 || math.Abs(e.Canary-0.0975) > 1e-12 {
		t.Errorf("evidence %+v", e)
	}
}

func TestHealthFailuresAndNoData(t *testing.T) {
	tr := triggers(t, "health_check_failures > 3", "error_rate > 1%")
	a := newAnalyzer(t, analysis.Config{Triggers: tr})
	lat := []int64{0, 0, 0, 0}
	stable := counters("stable", 100, 0, lat, 0)
	a.Step(analysis.Observation{Counters: []target.Counters{stable, counters("canary", 0, 0, lat, 0)}}, t0)
	// Canary without requests: the error-rate trigger has no data and holds.
	v := a.Step(analysis.Observation{Counters: []target.Counters{stable, counters("canary", 0, 0, lat, 2)}}, t0.Add(time.Second))
	if e, _ := evidence(v, "error_rate > 1%"); e.State != analysis.StateNoData || v.Decision == analysis.Pass {
		t.Fatalf("no data: %+v, %s", e, v.Decision)
	}
	v = a.Step(analysis.Observation{Counters: []target.Counters{stable, counters("canary", 0, 0, lat, 4)}}, t0.Add(2*time.Second))
	if v.Decision != analysis.Fail || v.Trigger != "health_check_failures > 3" {
		t.Fatalf("%s %q", v.Decision, v.Reason)
	}
}

func TestCounterResetIsNotNegative(t *testing.T) {
	a := newAnalyzer(t, analysis.Config{Triggers: triggers(t, "error_rate > 10%")})
	lat := []int64{0, 0, 0, 0}
	steps := [][2]int64{{0, 0}, {100, 1}, {200, 2}, {30, 0}, {130, 1}} // agent restarted before the 4th
	var v analysis.Verdict
	for i, s := range steps {
		v = a.Step(analysis.Observation{Counters: []target.Counters{counters("stable", 19*s[0], 19*s[1], lat, 0), counters("canary", s[0], s[1], lat, 0)}, Weight: 5},
			t0.Add(time.Duration(i)*time.Second))
	}
	e, _ := evidence(v, "sequential:errors")
	if e.CanaryN != 330 || v.Decision == analysis.Fail {
		t.Errorf("canary requests after reset = %d, want 200 + 30 + 100; %s %q", e.CanaryN, v.Decision, v.Reason)
	}
}

func TestSampleRatioMismatchHaltsPromotion(t *testing.T) {
	a := newAnalyzer(t, analysis.Config{})
	// The canary gets 10 % of requests while its weight says 5 %.
	v, _ := run(a, replay.New(1, t0, replay.Arm{Version: "stable", Rate: 180}, replay.Arm{Version: "canary", Rate: 20}), 5, 600)
	if v.Decision != analysis.Inconclusive || !strings.Contains(v.Reason, "sample ratio mismatch") {
		t.Fatalf("%s %q", v.Decision, v.Reason)
	}
}

// The engine persists the analyzer and resumes it after a crash: a
// JSON round trip mid-run must not change any later verdict.
func TestStateSurvivesJSONRoundTrip(t *testing.T) {
	cfg := analysis.Config{Triggers: triggers(t, "error_rate > 1% for 5m", "p95_latency > baseline + 20%"), MinDuration: time.Minute}
	a := newAnalyzer(t, cfg)
	s1 := replay.New(9, t0, arms(10, 0.001, 0.003)...)
	run(a, s1, 5, 20)
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var b analysis.Analyzer
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		s1.Advance(time.Second)
		obs := analysis.Observation{Counters: s1.Counters(), Weight: 5}
		va, vb := a.Step(obs, s1.Now()), b.Step(obs, s1.Now())
		ja, _ := json.Marshal(va)
		jb, _ := json.Marshal(vb)
		if string(ja) != string(jb) {
			t.Fatalf("resumed analyzer disagrees:\n%s\n%s", ja, jb)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  analysis.Config
		want string
	}{
		{analysis.Config{Stable: "v1"}, "the canary version is required"},
		{analysis.Config{Canary: "v2", Stable: "v1", Test: "t-test"}, `test "t-test": use "msprt", "beta" or "none"`},
		{analysis.Config{Canary: "v2", Stable: "v2"}, "both"},
		{analysis.Config{Canary: "v2", Stable: "v1", Alpha: 2}, "alpha"},
		{analysis.Config{Canary: "v2", Stable: "v1", OnLowTraffic: "wait"}, "policy"},
		{analysis.Config{Canary: "v2", Stable: "v1", MinEffect: 0.5}, "min_effect"},
	} {
		_, err := analysis.New(c.cfg)
		if !errors.Is(err, analysis.ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}

// A canary without series when the step starts (Prometheus has not scraped
// it yet) starts from zero: its first counts are all served during the step.
func TestCanaryAppearingLateCountsFromZero(t *testing.T) {
	a := newAnalyzer(t, analysis.Config{})
	lat := []int64{0, 0, 0, 0}
	a.Step(analysis.Observation{Counters: []target.Counters{counters("stable", 1000, 1, lat, 0)}, Weight: 5}, t0)
	// Only stable this tick: nothing is judged, nothing is lost.
	a.Step(analysis.Observation{Counters: []target.Counters{counters("stable", 1190, 1, lat, 0)}, Weight: 5}, t0.Add(time.Second))
	v := a.Step(analysis.Observation{Counters: []target.Counters{counters("stable", 1380, 1, lat, 0), counters("canary", 20, 0, lat, 0)}, Weight: 5}, t0.Add(2*time.Second))
	e, _ := evidence(v, "sequential:errors")
	srm, _ := evidence(v, "srm")
	if e.CanaryN != 20 || e.StableN != 380 || srm.State != analysis.StateOK {
		t.Errorf("canary %d, stable %d requests (want 20, 380); srm %+v", e.CanaryN, e.StableN, srm)
	}
}

func TestBetaMixtureDetects(t *testing.T) {
	var ticks []int
	for seed := range uint64(20) {
		a := newAnalyzer(t, analysis.Config{Test: analysis.TestBeta})
		v, n := run(a, replay.New(seed, t0, arms(10, 0.001, 0.05)...), 5, 600)
		if v.Decision != analysis.Fail || v.Trigger != "sequential:errors" {
			t.Fatalf("seed %d: %s %q", seed, v.Decision, v.Reason)
		}
		ticks = append(ticks, n)
	}
	if med := median(ticks); med > 15 {
		t.Errorf("median detection %d s, want ≤ 15 s", med)
	}
}

// Neither version has series at the start (a fresh Prometheus): the first
// histogram seen is adopted as the starting point, and latency is still judged.
func TestHistogramAdoptedAfterStart(t *testing.T) {
	a := newAnalyzer(t, analysis.Config{})
	a.Step(analysis.Observation{Weight: 5}, t0)
	stable := func(n int64) target.Counters { return counters("stable", n, 0, []int64{n, 0, 0, 0}, 0) }
	a.Step(analysis.Observation{Counters: []target.Counters{stable(5000), counters("canary", 0, 0, []int64{0, 0, 0, 0}, 0)}, Weight: 5}, t0.Add(time.Second))
	v := a.Step(analysis.Observation{Counters: []target.Counters{stable(5380), counters("canary", 20, 0, []int64{0, 20, 0, 0}, 0)}, Weight: 5}, t0.Add(2*time.Second))
	if v.Decision != analysis.Fail || v.Trigger != "sequential:latency" {
		t.Fatalf("all 20 canary requests slower than every stable one: %s %q", v.Decision, v.Reason)
	}
	if _, ok := evidence(v, "sequential:latency>50ms"); !ok {
		t.Errorf("threshold frozen from stable's histogram missing: %+v", v.Evidence)
	}
}

// Triggers judge alone on a first release, at all traffic and with the
// test off: a healthy new version passes once the step's minimum duration
// has passed with no trigger firing or pending, and the evidence carries
// no comparison.
func TestTriggersOnlyPassAfterMinDuration(t *testing.T) {
	for _, c := range []struct {
		name   string
		cfg    analysis.Config
		weight float64
		arms   []replay.Arm
	}{
		{"first release", analysis.Config{Canary: "canary"}, 10, []replay.Arm{{Version: "canary", Rate: 10, ErrorRate: 0.001}}},
		{"all traffic", analysis.Config{Canary: "canary", Stable: "stable"}, 100, []replay.Arm{{Version: "stable"}, {Version: "canary", Rate: 100, ErrorRate: 0.001}}},
		{"test none", analysis.Config{Canary: "canary", Stable: "stable", Test: analysis.TestNone}, 10, arms(10, 0.001, 0.001)},
	} {
		c.cfg.Triggers, c.cfg.MinDuration = triggers(t, "error_rate > 5% for 30s", "health_check_failures > 3"), 30*time.Second
		v, n := run(newAnalyzer(t, c.cfg), replay.New(1, t0, c.arms...), c.weight, 600)
		if v.Decision != analysis.Pass || n != 30 || !strings.Contains(v.Reason, "triggers only") {
			t.Errorf("%s: %s after %d s: %q, want a pass at the 30 s minimum", c.name, v.Decision, n, v.Reason)
		}
		for _, e := range v.Evidence {
			if strings.HasPrefix(e.Check, "sequential") || e.Check == "srm" || e.Check == "power" {
				t.Errorf("%s: comparison evidence %+v without a comparison", c.name, e)
			}
		}
		if e, _ := evidence(v, "error_rate > 5% for 30s"); e.State != analysis.StateOK || e.CanaryN == 0 {
			t.Errorf("%s: trigger evidence %+v", c.name, e)
		}
	}
}

// A pending trigger holds a triggers-only step past its minimum duration;
// once it has held for its `for`, the step fails with the trigger's numbers.
func TestTriggersOnlyPendingHoldsThenFails(t *testing.T) {
	a := newAnalyzer(t, analysis.Config{Canary: "canary", Triggers: triggers(t, "error_rate > 1% for 2m"), MinDuration: 30 * time.Second})
	s := replay.New(2, t0, replay.Arm{Version: "canary", Rate: 20, ErrorRate: 0.04})
	v, n := run(a, s, 10, 600)
	if v.Decision != analysis.Fail || v.Trigger != "error_rate > 1% for 2m" || n < 120 || n > 125 {
		t.Fatalf("%s after %d s: %q, want the trigger to fire after 2 m", v.Decision, n, v.Reason)
	}
	if !strings.Contains(v.Reason, "canary error_rate 4") && !strings.Contains(v.Reason, "canary error_rate 3") {
		t.Errorf("reason %q should name the canary's rate", v.Reason)
	}
	a = newAnalyzer(t, analysis.Config{Canary: "canary", Triggers: triggers(t, "error_rate > 1% for 2m"), MinDuration: 30 * time.Second})
	s = replay.New(2, t0, replay.Arm{Version: "canary", Rate: 20, ErrorRate: 0.04})
	for range 60 {
		v = a.Step(analysis.Observation{Counters: s.Counters(), Weight: 10}, s.Now())
		s.Advance(time.Second)
	}
	if v.Decision != analysis.Continue || !strings.Contains(v.Reason, `trigger "error_rate > 1% for 2m" pending`) {
		t.Errorf("at 60 s: %s %q, want a hold for the pending trigger", v.Decision, v.Reason)
	}
}

// No data follows each trigger's no_data policy and is never a pass by
// itself: held triggers stay where they were (a step without requests
// passes on time alone, saying which triggers had no data), "fail" counts
// as the condition holding, and a version the source has no series for
// keeps the step waiting until it turns inconclusive.
func TestTriggersOnlyNoData(t *testing.T) {
	idle := func(health int64) analysis.Observation {
		return analysis.Observation{Counters: []target.Counters{counters("canary", 0, 0, []int64{0, 0, 0, 0}, health)}, Weight: 100}
	}
	step := func(a *analysis.Analyzer, obs analysis.Observation, secs int) analysis.Verdict {
		var v analysis.Verdict
		for i := range secs + 1 {
			if v = a.Step(obs, t0.Add(time.Duration(i)*time.Second)); v.Decision != analysis.Continue {
				break
			}
		}
		return v
	}
	cfg := analysis.Config{Canary: "canary", Triggers: triggers(t, "error_rate > 1% for 5s"), MinDuration: 10 * time.Second}
	v := step(newAnalyzer(t, cfg), idle(0), 10)
	if v.Decision != analysis.Pass || !strings.Contains(v.Reason, `without data: "error_rate > 1% for 5s" (0 requests in the window)`) {
		t.Errorf("hold: %s %q", v.Decision, v.Reason)
	}
	cfg.Triggers[0].NoData = analysis.NoDataFail
	if v := step(newAnalyzer(t, cfg), idle(0), 10); v.Decision != analysis.Fail || v.At != t0.Add(6*time.Second) {
		t.Errorf("no_data fail: %s at %v %q, want a fail once no data held for 5 s", v.Decision, v.At, v.Reason)
	}
	cfg.Triggers[0].NoData, cfg.MaxDuration = "", time.Minute
	v = step(newAnalyzer(t, cfg), analysis.Observation{Weight: 100}, 120)
	if v.Decision != analysis.Inconclusive || v.At != t0.Add(time.Minute) || !strings.Contains(v.Reason, "canary data") {
		t.Errorf("no series: %s at %v %q, want inconclusive at the 1 m maximum", v.Decision, v.At, v.Reason)
	}
}

// The watch never passes: with all traffic on the new version it continues
// for as long as the engine asks, and only a firing trigger fails it.
func TestWatchContinuesUntilATriggerFires(t *testing.T) {
	a := newAnalyzer(t, analysis.Config{Canary: "canary", Stable: "stable", Watch: true, Triggers: triggers(t, "error_rate > 1% for 30s")})
	s := replay.New(3, t0, replay.Arm{Version: "stable"}, replay.Arm{Version: "canary", Rate: 50, ErrorRate: 0.001})
	v, n := run(a, s, 100, 900)
	if v.Decision != analysis.Continue || n != 900 || !strings.HasPrefix(v.Reason, "watching canary") {
		t.Fatalf("%s after %d s of a healthy watch: %q, want continue", v.Decision, n, v.Reason)
	}
	// A watch without metrics is not a watch: past the grace, the verdict
	// is inconclusive and on_unavailable applies, as at every step.
	down := analysis.Observation{Err: analysis.ErrNoData, Weight: 100}
	for i := range 6 {
		v = a.Step(down, s.Now().Add(time.Duration(i+1)*time.Second))
	}
	if v.Decision != analysis.Inconclusive || v.Policy != analysis.PolicyPause {
		t.Errorf("watch without metrics for 6 s: %s %s %q", v.Decision, v.Policy, v.Reason)
	}
	bad := newAnalyzer(t, analysis.Config{Canary: "canary", Stable: "stable", Watch: true, Triggers: triggers(t, "error_rate > 1% for 30s")})
	v, n = run(bad, replay.New(4, t0, replay.Arm{Version: "stable"}, replay.Arm{Version: "canary", Rate: 50, ErrorRate: 0.2}), 100, 900)
	if v.Decision != analysis.Fail || n < 30 || n > 32 {
		t.Errorf("%s after %d s of a bad watch: %q, want the trigger to fire after 30 s", v.Decision, n, v.Reason)
	}
}

// belay.yaml's min_requests floors the canary traffic a comparing step
// needs before it passes; it never keeps a trigger from judging.
func TestMinCanaryRequestsFloorsThePass(t *testing.T) {
	a := newAnalyzer(t, analysis.Config{MinDuration: 30 * time.Second, MinCanaryRequests: 2000, Triggers: triggers(t, "error_rate > 5%")})
	v, n := run(a, replay.New(1, t0, arms(10, 0.001, 0.001)...), 5, 600)
	pw, _ := evidence(v, "power")
	if v.Decision != analysis.Pass || n < 200 || pw.Threshold != 2000 || pw.CanaryN < 2000 {
		t.Fatalf("%s after %d s with power %+v: %q", v.Decision, n, pw, v.Reason)
	}
	if e, _ := evidence(v, "error_rate > 5%"); e.State != analysis.StateOK || e.CanaryN < 10 {
		t.Errorf("trigger %+v", e)
	}
}

// A comparing step whose stable has no series yet still judges the
// canary's absolute triggers; the comparison waits for both.
func TestTriggersJudgeBeforeStableHasSeries(t *testing.T) {
	a := newAnalyzer(t, analysis.Config{Triggers: triggers(t, "error_rate > 10%")})
	lat := []int64{0, 0, 0, 0}
	a.Step(analysis.Observation{Counters: []target.Counters{counters("canary", 0, 0, lat, 0)}, Weight: 5}, t0)
	v := a.Step(analysis.Observation{Counters: []target.Counters{counters("canary", 20, 5, lat, 0)}, Weight: 5}, t0.Add(time.Second))
	if v.Decision != analysis.Fail || v.Trigger != "error_rate > 10%" {
		t.Fatalf("%s %q", v.Decision, v.Reason)
	}
	if e, _ := evidence(v, "sequential:errors"); e.CanaryN != 0 {
		t.Errorf("the comparison took the canary's requests without stable's: %+v", e)
	}
}

// One request in the window reads "1 request", never "1 requests".
func TestNoDataSaysOneRequest(t *testing.T) {
	cfg := analysis.Config{Canary: "canary", Triggers: triggers(t, "error_rate > 1% for 5s"), MinDuration: 10 * time.Second, TriggerMinRequests: 5}
	a := newAnalyzer(t, cfg)
	var v analysis.Verdict
	for i := range 11 {
		n := int64(i / 10) // the step's only request arrives at its end
		obs := analysis.Observation{Counters: []target.Counters{counters("canary", n, 0, []int64{n, 0, 0, 0}, 0)}, Weight: 100}
		if v = a.Step(obs, t0.Add(time.Duration(i)*time.Second)); v.Decision != analysis.Continue {
			break
		}
	}
	if !strings.Contains(v.Reason, `"error_rate > 1% for 5s" (1 request in the window)`) {
		t.Errorf("%s %q", v.Decision, v.Reason)
	}
}
