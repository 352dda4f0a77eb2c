package spec

import (
	"testing"
	"time"
)

func TestEventsBlock(t *testing.T) {
	doc := `services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: [error_rate > 1% for 5m]
    rollback_action: deploy previous_stable
environments:
  - name: production
events:
  webhooks:
    - {name: ops, url: "https://hooks.example.com/belay", secret_env: BELAY_WEBHOOK_KEY, events: [deployment_promoted], give_up_after: 30m}
  cdevents:
    - {name: cd, url: "http://cdviz:8080/webhook", source: /belay/shop}
  grafana:
    - {name: grafana, url: "http://grafana:3000", token_env: GRAFANA_TOKEN, timeout: 5s}
`
	p, err := ParseProject("belay.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	ev := p.Events
	if ev == nil || len(ev.Webhooks) != 1 || len(ev.CDEvents) != 1 || len(ev.Grafana) != 1 {
		t.Fatalf("events = %+v", ev)
	}
	if w := ev.Webhooks[0]; w.SecretEnv != "BELAY_WEBHOOK_KEY" || w.Events[0] != "deployment_promoted" || w.GiveUpAfter.D() != 30*time.Minute {
		t.Errorf("webhook = %+v", w)
	}
	if c, g := ev.CDEvents[0], ev.Grafana[0]; c.Source != "/belay/shop" || g.TokenEnv != "GRAFANA_TOKEN" || g.Timeout.D() != 5*time.Second {
		t.Errorf("cdevents = %+v, grafana = %+v", c, g)
	}
}
