package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/builtin"
	"github.com/belay-dev/belay/internal/analysis/prometheus"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target/local"
)

func TestSourcesPickByName(t *testing.T) {
	b := builtin.New(local.Unix(t.TempDir() + "/agent.sock"))
	s := &Sources{Builtin: b}
	if got, err := s.For(&spec.Analysis{Source: spec.SourceBuiltin}); err != nil || got != analysis.Source(b) {
		t.Fatalf("builtin: %v, %v", got, err)
	}
	if got, err := s.For(nil); err != nil || got != analysis.Source(b) {
		t.Fatalf("no settings: %v, %v", got, err)
	}
	a := &spec.Analysis{Source: spec.SourcePrometheus, Prometheus: &spec.PrometheusSource{URL: "http://127.0.0.1:9", Timeout: spec.Duration(time.Second)}}
	p1, err := s.For(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p1.(*prometheus.Source); !ok {
		t.Fatalf("prometheus: got %T", p1)
	}
	if p2, _ := s.For(a); p2 != p1 {
		t.Error("same settings built a second client")
	}
	if _, err := s.For(&spec.Analysis{Source: "datadog"}); err == nil || !strings.Contains(err.Error(), `"datadog" is unknown`) {
		t.Errorf("unknown source: %v", err)
	}
	if _, err := s.For(&spec.Analysis{Source: spec.SourcePrometheus}); err == nil {
		t.Error("prometheus without a server was accepted")
	}
}

func TestTemplatesReplaceOneByOne(t *testing.T) {
	got := templates(&spec.PrometheusQueries{Errors: "sum(e)"})
	want := prometheus.DefaultTemplates
	want.Errors = "sum(e)"
	if got != want {
		t.Fatalf("templates %+v, want %+v", got, want)
	}
}

// TestJudgeUnavailablePrometheus: a Prometheus that answers 503 holds the
// step for the grace, then gives an inconclusive "metrics unavailable"
// verdict carrying the service's on_unavailable policy, never a pass.
func TestJudgeUnavailablePrometheus(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "stopping", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	doc, err := spec.ParseProject("belay.yaml", []byte(strings.Replace(judgeYAML, "    rollback_action: deploy previous_stable\n",
		"    rollback_action: deploy previous_stable\n    analysis: {source: prometheus, prometheus: {url: "+down.URL+", timeout: 1s}, on_unavailable: rollback}\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	j := NewJudge(JudgeDeps{Source: (&Sources{}).For, Project: func() (*spec.Project, error) { return doc, nil }, Now: func() time.Time { return now }})
	v, err := j.Judge(context.Background(), canaryState("3", 0))
	if err != nil {
		t.Fatal(err)
	}
	if v.Decision != analysis.Continue || !strings.HasPrefix(v.Reason, "metrics unavailable") {
		t.Fatalf("first failed read: %+v, want a hold within the grace", v)
	}
	now = now.Add(6 * time.Second) // past the 5 s grace
	if v, err = j.Judge(context.Background(), canaryState("3", 0)); err != nil {
		t.Fatal(err)
	}
	if v.Decision != analysis.Inconclusive || v.Policy != analysis.PolicyRollback || !strings.HasPrefix(v.Reason, "metrics unavailable") {
		t.Fatalf("verdict %+v", v)
	}
	next, _ := rollout.Next(canaryState("3", 0), rollout.Observation{Kind: rollout.Judged, Verdict: &v}, time.Now())
	if next.Phase != rollout.RollingBack {
		t.Fatalf("engine went to %s, want rolling_back", next.Phase)
	}
}
