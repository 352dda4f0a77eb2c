package prometheus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/belay-dev/belay/internal/analysis"
	belayprom "github.com/belay-dev/belay/internal/analysis/prometheus"
	"github.com/belay-dev/belay/internal/spec"
)

// A trigger on a named metric reads the service's own gauge through a real
// Prometheus, per version, and fires on the canary's value.
func TestNamedMetricFromRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real Prometheus")
	}
	ag := newAgent(t)
	depth := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hello_queue_depth", Help: "jobs waiting"}, []string{"service", "version", "environment"})
	ag.reg.MustRegister(depth)
	ag.serve("v1", "2xx", 10, 0.01)
	ag.serve("v2", "2xx", 10, 0.01)
	depth.WithLabelValues("api", "v2", "production").Set(5000)
	depth.WithLabelValues("api", "v1", "production").Set(3)
	url, _ := startPrometheus(t, strings.TrimPrefix(ag.srv.URL, "http://"))
	src, err := belayprom.New(url, belayprom.Templates{Requests: belayprom.DefaultTemplates.Requests}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := `max(hello_queue_depth{service="{{service}}",environment="{{environment}}",version="{{version}}"})`
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, ok, err := src.Value(context.Background(), q, "v2", tmpl)
		if err == nil && ok && v == 5000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no queue depth from Prometheus within 20 s: %v %v %v", v, ok, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if _, ok, err := src.Value(context.Background(), q, "v9", tmpl); ok || err != nil {
		t.Errorf("a version without series: ok %v, err %v; want no data", ok, err)
	}
	tr, err := spec.ParseTriggerWith("queue_depth > 1000", map[string]spec.Kind{"queue_depth": spec.KindCount})
	if err != nil {
		t.Fatal(err)
	}
	a, err := analysis.New(analysis.Config{Canary: "v2", Stable: "v1", Test: analysis.TestNone,
		Triggers: []analysis.TriggerConfig{{Trigger: tr, Named: &analysis.NamedMetric{Query: tmpl, Kind: spec.MetricCount, ByVersion: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a.Tick(context.Background(), src, "production", "api", 10, now)
	v := a.Tick(context.Background(), src, "production", "api", 10, now.Add(time.Second))
	if v.Decision != analysis.Fail || v.Evidence[0].Canary != 5000 || v.Evidence[0].Baseline != 3 {
		t.Fatalf("verdict %+v", v)
	}
}
