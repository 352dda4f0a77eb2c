package parity

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkCompare renders and compares two environments of a project with
// 50 services and every stack component.
func BenchmarkCompare(b *testing.B) {
	var doc strings.Builder
	doc.WriteString("service_stack: {app_service: enabled, database: managed_postgres, cache: redis, queue: nats, object_storage: enabled, monitoring: enabled, log_forwarding: enabled, backups: enabled}\nservices:\n")
	for i := range 50 {
		fmt.Fprintf(&doc, `  svc%d:
    run: {command: bin/svc, secrets: [DB_URL, API_KEY%d]}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: [error_rate > 1%% for 5m]
    rollback_action: deploy previous_stable
    slo: {objective: 99.9%%}
`, i, i)
	}
	doc.WriteString(`environments:
  - name: staging
    stack: {database: {size: small, version: "16"}, cache: {memory: 1gb}}
  - name: production
    stack: {database: {size: large, version: "16"}, cache: {memory: 8gb}}
`)
	p := load(b, doc.String())
	r, err := Compare(p, "staging", "production")
	if err != nil || !r.Equal {
		b.Fatalf("%v %+v", err, r)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Compare(p, "staging", "production"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(r.Resources), "resources")
}
