package spec

import (
	"strings"
	"testing"
)

const metricsDoc = `
analysis:
  prometheus: {url: http://127.0.0.1:9090}
metrics:
  queue_depth:
    query: max(hello_queue_depth{service="{{service}}",environment="{{environment}}",version="{{version}}"})
    kind: count
services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    metrics:
      job_failure_rate:
        query: sum(rate(jobs_failed_total{version="{{version}}"}[1m])) / sum(rate(jobs_total{version="{{version}}"}[1m]))
        kind: ratio
    rollback_trigger:
      - queue_depth > 1000 for 5m
      - job_failure_rate > baseline + 20%
      - error_rate > 1%
    rollback_action: deploy previous_stable
environments:
  - name: production
`

func TestNamedMetricTriggers(t *testing.T) {
	p, err := ParseProject("belay.yaml", []byte(metricsDoc))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Service("api")
	if len(s.RollbackTrigger) != 3 {
		t.Fatalf("triggers %+v", s.RollbackTrigger)
	}
	q, j := s.RollbackTrigger[0], s.RollbackTrigger[1]
	if q.Metric != "queue_depth" || q.Value != 1000 || q.For.Minutes() != 5 {
		t.Errorf("queue_depth trigger %+v", q)
	}
	if j.Metric != "job_failure_rate" || !j.Relative || j.Margin != 0.2 {
		t.Errorf("job_failure_rate trigger %+v", j)
	}
	if m := s.Metrics["queue_depth"]; m == nil || m.Kind != MetricCount || !m.ByVersion() || m.Name != "queue_depth" {
		t.Errorf("the project's metric is not the service's: %+v", s.Metrics)
	}
	if m := s.Metrics["job_failure_rate"]; m == nil || m.Kind.Kind() != KindRatio {
		t.Errorf("the service's own metric: %+v", s.Metrics)
	}
}

func TestParseTriggerWith(t *testing.T) {
	named := map[string]Kind{"job_failure_rate": KindRatio, "queue_depth": KindCount, "slow_query_time": KindDuration}
	for line, want := range map[string]float64{"job_failure_rate > 2%": 0.02, "queue_depth>1000": 1000, "slow_query_time >= 250ms for 1m": 0.25} {
		tr, err := ParseTriggerWith(line, named)
		if err != nil || tr.Value != want {
			t.Errorf("%q: %+v, %v", line, tr, err)
		}
	}
	// a built-in typo keeps its message, with no advice to declare it
	_, err := ParseTriggerWith("eror_rate > 1%", named)
	if err == nil || !strings.Contains(err.Error(), `did you mean "error_rate"`) || strings.Contains(err.Error(), "declare it") {
		t.Errorf("typo of a built-in: %v", err)
	}
	_, err = ParseTriggerWith("job_failure_rat > 1%", named)
	if err == nil || !strings.Contains(err.Error(), `did you mean "job_failure_rate"`) || !strings.Contains(err.Error(), "queue_depth") {
		t.Errorf("typo of a named metric: %v", err)
	}
	if _, err := ParseTrigger("queue_depth > 5"); err == nil {
		t.Error("ParseTrigger accepted a metric it does not know")
	}
}

func TestCheckPromQL(t *testing.T) {
	for q, want := range map[string]string{
		`sum(rate(x{version="{{version}}"}[1m])`: "at 1:39 of the query: unclosed left parenthesis",
		`max(x{env="{{env}}"})`:                  "unknown placeholder {{env}}",
		`max(x{service="{{service}}"}) by`:       "at 1:",
		`max(x{service="{{service}}",environment="{{environment}}",version="{{version}}"})`: "",
	} {
		err := CheckPromQL(q)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", q, err, want)
		}
	}
}

// A release plan in belay.yaml may name its service's metrics; a plan file
// on its own knows none.
func TestReleasePlanNamedMetric(t *testing.T) {
	plan := `release_plan:
  version: api-2026.05.12-8f3a91c
  previous_stable: api-2026.05.11-1c2d3e4
  migration_type: none
  rollout: all_at_once
  rollback_trigger: [job_failure_rate > 2% for 5m]
  rollback_action: deploy previous_stable
`
	p, err := ParseProject("belay.yaml", []byte(metricsDoc+plan))
	if err != nil {
		t.Fatal(err)
	}
	if tr := p.ReleasePlan.RollbackTrigger; len(tr) != 1 || tr[0].Metric != "job_failure_rate" || tr[0].Value != 0.02 {
		t.Fatalf("plan triggers %+v", tr)
	}
	_, err = ParseProject("belay.yaml", []byte(strings.Replace(metricsDoc+plan, "job_failure_rate > 2%", "job_failure_rate > 2", 1)))
	if err == nil || !strings.Contains(err.Error(), `release_plan.rollback_trigger[0]: invalid rollback trigger "job_failure_rate > 2 for 5m": value "2" needs a % unit`) {
		t.Fatalf("wrong kind in a plan: %v", err)
	}
}
