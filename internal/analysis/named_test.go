package analysis

import (
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target"
)

func namedTrigger(t *testing.T, line string, kind spec.MetricKind, byVersion bool) TriggerConfig {
	t.Helper()
	name := strings.Fields(line)[0]
	tr, err := spec.ParseTriggerWith(line, map[string]spec.Kind{name: kind.Kind()})
	if err != nil {
		t.Fatal(err)
	}
	q := `max(hello_queue_depth{service="{{service}}"})`
	if byVersion {
		q = `max(hello_queue_depth{version="{{version}}"})`
	}
	return TriggerConfig{Trigger: tr, Named: &NamedMetric{Query: q, Kind: kind, ByVersion: byVersion}}
}

// A trigger on a named metric follows Prometheus `for` on the values the
// observation carries, holds without data, and shows canary and stable
// side by side in its evidence.
func TestNamedMetricTrigger(t *testing.T) {
	cfg := Config{Canary: "v2", Stable: "v1", Test: TestNone, Triggers: []TriggerConfig{
		namedTrigger(t, "queue_depth > 100 for 5s", spec.MetricCount, true),
		namedTrigger(t, "job_failure_rate > baseline + 50%", spec.MetricRatio, true),
	}}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	cs := []target.Counters{{Version: "v2"}, {Version: "v1"}}
	obs := func(depth2, depth1, rate2, rate1 float64) Observation {
		return Observation{Counters: cs, Weight: 10, Named: map[string]map[string]float64{
			"queue_depth": {"v2": depth2, "v1": depth1}, "job_failure_rate": {"v2": rate2, "v1": rate1}}}
	}
	a.Step(obs(0, 0, 0, 0), t0)
	v := a.Step(obs(500, 3, 0.01, 0.01), t0.Add(time.Second))
	if v.Decision != Continue || v.Evidence[0].State != StatePending || v.Evidence[0].Canary != 500 || v.Evidence[0].Baseline != 3 || v.Evidence[0].Kind != spec.MetricCount {
		t.Fatalf("pending: %+v", v)
	}
	// no value this tick: held, neither fired nor reset
	v = a.Step(Observation{Counters: cs, Weight: 10}, t0.Add(4*time.Second))
	if v.Decision != Continue || v.Evidence[0].State != StateNoData {
		t.Fatalf("no data: %+v", v)
	}
	v = a.Step(obs(800, 3, 0.01, 0.01), t0.Add(6*time.Second))
	if v.Decision != Fail || v.Trigger != "queue_depth > 100 for 5s" || !strings.Contains(v.Reason, "v2 queue_depth 800 read from Prometheus (stable 3)") {
		t.Fatalf("fired: %+v", v)
	}
	// a relative trigger compares the canary with stable's value
	b, _ := New(cfg)
	b.Step(obs(0, 0, 0, 0), t0)
	v = b.Step(obs(0, 0, 0.04, 0.02), t0.Add(time.Second))
	if v.Decision != Fail || v.Trigger != "job_failure_rate > baseline + 50%" || v.Evidence[1].Threshold != 0.03 || !strings.Contains(v.Reason, "4% read from Prometheus against threshold 3% (stable 2% + 50%)") {
		t.Fatalf("relative: %+v", v)
	}
}

// A metric not split by version is the canary's: stable has no value.
func TestNamedMetricNotByVersion(t *testing.T) {
	cfg := Config{Canary: "v2", Stable: "v1", Test: TestNone, Triggers: []TriggerConfig{namedTrigger(t, "queue_depth > 100", spec.MetricCount, false)}}
	a, _ := New(cfg)
	t0 := time.Unix(1000, 0)
	o := Observation{Weight: 10, Named: map[string]map[string]float64{"queue_depth": {"": 150}}}
	a.Step(o, t0)
	v := a.Step(o, t0.Add(time.Second))
	if v.Decision != Fail || v.Evidence[0].Canary != 150 || v.Evidence[0].Baseline != 0 {
		t.Fatalf("%+v", v)
	}
}

// A ratio metric split by version joins the comparison's evidence, canary
// beside stable, without judging.
func TestComparedMetricInEvidence(t *testing.T) {
	cfg := Config{Canary: "v2", Stable: "v1", Compared: map[string]NamedMetric{
		"job_failure_rate": {Query: `x{version="{{version}}"}`, Kind: spec.MetricRatio, ByVersion: true}}}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	obs := func(n int64) Observation {
		return Observation{Weight: 10, Counters: []target.Counters{{Version: "v2", Requests: n}, {Version: "v1", Requests: 9 * n}},
			Named: map[string]map[string]float64{"job_failure_rate": {"v2": 0.3, "v1": 0.01}}}
	}
	a.Step(obs(0), t0)
	v := a.Step(obs(10), t0.Add(time.Second))
	var e *Evidence
	for i := range v.Evidence {
		if v.Evidence[i].Check == "metric:job_failure_rate" {
			e = &v.Evidence[i]
		}
	}
	if v.Decision != Continue || e == nil || e.Canary != 0.3 || e.Baseline != 0.01 || e.Kind != spec.MetricRatio || e.State != StateOK {
		t.Fatalf("%+v", v)
	}
}
