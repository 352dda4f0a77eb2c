package spec

import (
	"encoding/json"
	"testing"
	"time"
)

func TestSLODecodes(t *testing.T) {
	const doc = `services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: [error_rate > 1% for 5m]
    rollback_action: deploy previous_stable
    slo: {objective: 99.9%}
  web:
    run: {command: bin/web}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: [error_rate > 1% for 5m]
    rollback_action: deploy previous_stable
    slo: {objective: 99.5%, window: 4w}
environments:
  - name: staging
  - name: production
`
	p, err := Parse("belay.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	api, web := p.Project.Service("api").SLO.Effective(), p.Project.Service("web").SLO.Effective()
	if api.Objective.Budget() != 0.001 || api.Window.D() != 30*24*time.Hour {
		t.Errorf("api: budget %v window %v, want 0.001 over 30d", api.Objective.Budget(), api.Window)
	}
	if web.Objective.Budget() != 0.005 || web.Window.D() != 28*24*time.Hour {
		t.Errorf("web: budget %v window %v, want 0.005 over 28d", web.Objective.Budget(), web.Window)
	}
	b, _ := json.Marshal(web)
	if string(b) != `{"objective":"99.5%","window":"28d"}` {
		t.Errorf("json %s", b)
	}
}

func TestParseSLOWindow(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 720 * time.Hour, "4w": 672 * time.Hour, "100h": 100 * time.Hour} {
		if got, err := ParseSLOWindow(in); err != nil || got.D() != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "0d", "-1d", "1.5d", "1y", "d"} {
		if _, err := ParseSLOWindow(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
