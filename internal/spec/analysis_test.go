package spec

import (
	"testing"
	"time"
)

func TestAnalysisSourceAndPolicies(t *testing.T) {
	p, err := ParseProject("belay.yaml", []byte(`
services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: ["error_rate > 1% for 5m"]
    rollback_action: deploy previous_stable
    analysis:
      source: prometheus
      prometheus:
        url: http://127.0.0.1:9090
        queries: {errors: 'sum(my_errors{svc="{{service}}",v="{{version}}"})'}
      test: beta
      on_unavailable: rollback
      on_srm: pause
  web:
    run: {command: bin/web}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: ["error_rate > 1% for 5m"]
    rollback_action: deploy previous_stable
environments:
  - name: staging
`))
	if err != nil {
		t.Fatal(err)
	}
	a := p.Service("api").Analysis
	if a.Source != SourcePrometheus || a.Test != TestBeta || a.OnUnavailable != InconclusiveRollback || a.OnSRM != InconclusivePause || a.OnLowTraffic != "" {
		t.Errorf("api analysis = %+v", a)
	}
	if a.Prometheus.URL != "http://127.0.0.1:9090" || a.Prometheus.Timeout.D() != 5*time.Second ||
		a.Prometheus.Queries.Errors != `sum(my_errors{svc="{{service}}",v="{{version}}"})` || a.Prometheus.Queries.Requests != "" {
		t.Errorf("api prometheus = %+v, queries %+v", a.Prometheus, a.Prometheus.Queries)
	}
	if w := p.Service("web").Analysis; w.Source != SourceBuiltin || w.Test != TestMSPRT || w.Prometheus != nil {
		t.Errorf("web analysis defaults = %+v", w)
	}
}

func TestAnalysisInheritsFromProject(t *testing.T) {
	p, err := ParseProject("belay.yaml", []byte(`
analysis:
  source: prometheus
  prometheus: {url: http://prom:9090, timeout: 2s}
  on_unavailable: rollback
  alpha: 0.05
services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: ["error_rate > 1% for 5m"]
    rollback_action: deploy previous_stable
  web:
    run: {command: bin/web}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: ["error_rate > 1% for 5m"]
    rollback_action: deploy previous_stable
    analysis: {source: builtin, alpha: 0.01, on_unavailable: pause}
environments:
  - name: staging
`))
	if err != nil {
		t.Fatal(err)
	}
	api, web := p.Service("api").Analysis, p.Service("web").Analysis
	if api.Source != SourcePrometheus || api.Prometheus.URL != "http://prom:9090" || api.Prometheus.Timeout.D() != 2*time.Second ||
		api.OnUnavailable != InconclusiveRollback || api.Alpha != 0.05 || api.MinRequests != DefaultMinRequests {
		t.Errorf("api inherits %+v", api)
	}
	if web.Source != SourceBuiltin || web.Alpha != 0.01 || web.OnUnavailable != InconclusivePause {
		t.Errorf("web's own fields must win: %+v", web)
	}
}

func TestAnalysisTestNone(t *testing.T) {
	p, err := ParseProject("belay.yaml", []byte(`
analysis: {test: none}
services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: ["error_rate > 1% for 5m"]
    rollback_action: deploy previous_stable
  web:
    run: {command: bin/web}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: ["error_rate > 1% for 5m"]
    rollback_action: deploy previous_stable
    analysis: {test: msprt}
environments:
  - name: staging
`))
	if err != nil {
		t.Fatal(err)
	}
	if a, w := p.Service("api").Analysis.Test, p.Service("web").Analysis.Test; a != TestNone || w != TestMSPRT {
		t.Errorf("test: api %q (want none, from the project), web %q (want msprt)", a, w)
	}
}
