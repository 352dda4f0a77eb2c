package server

import (
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/spec"
)

// A service whose triggers watch a named metric gets its analysis.prometheus
// server beside its counters source; without one it is an error saying what
// to add; a source that reads Prometheus already is used as it is.
func TestWithNamed(t *testing.T) {
	tr, err := spec.ParseTriggerWith("queue_depth > 1000", map[string]spec.Kind{"queue_depth": spec.KindCount})
	if err != nil {
		t.Fatal(err)
	}
	svc := &spec.Service{Name: "api", Metrics: spec.MetricDefs{"queue_depth": {Name: "queue_depth", Query: `max(q{version="{{version}}"})`, Kind: spec.MetricCount}}}
	nm := namedMetric(svc, tr.Metric)
	if nm == nil || !nm.ByVersion || nm.Kind != spec.MetricCount || namedMetric(svc, spec.ErrorRate) != nil {
		t.Fatalf("namedMetric: %+v", nm)
	}
	cfg := analysis.Config{Triggers: []analysis.TriggerConfig{{Trigger: tr, Named: nm}}}
	srcs := &Sources{}
	if _, err := withNamed(srcs.For, srcs.Builtin, svc, cfg); err == nil || !strings.Contains(err.Error(), "add analysis: {prometheus: {url:") {
		t.Fatalf("no server: %v", err)
	}
	svc.Analysis = &spec.Analysis{Source: spec.SourceBuiltin, Prometheus: &spec.PrometheusSource{URL: "http://127.0.0.1:9090"}}
	src, err := withNamed(srcs.For, srcs.Builtin, svc, cfg)
	if _, ok := src.(analysis.NamedSource); err != nil || !ok {
		t.Fatalf("builtin with a prometheus server: %T %v", src, err)
	}
	prom, _ := srcs.For(&spec.Analysis{Source: spec.SourcePrometheus, Prometheus: svc.Analysis.Prometheus})
	if got, err := withNamed(srcs.For, prom, svc, cfg); err != nil || got != prom {
		t.Fatalf("prometheus source: %T %v", got, err)
	}
	svc.Metrics["job_failure_rate"] = &spec.MetricDef{Query: `rate(f{version="{{version}}"}[1m])`, Kind: spec.MetricRatio}
	svc.Metrics["pool_use"] = &spec.MetricDef{Query: `max(pool_use{service="{{service}}"})`, Kind: spec.MetricRatio}
	if c := compared(svc); len(c) != 1 || c["job_failure_rate"].Query == "" {
		t.Errorf("compared: only ratio metrics split by version: %+v", c)
	}
	if got, err := withNamed(srcs.For, prom, svc, analysis.Config{}); err != nil || got != prom {
		t.Fatalf("no named trigger: %T %v", got, err)
	}
}
