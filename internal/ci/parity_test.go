package ci

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/spec"
)

// The parity gate compares each environment with the next and fails on a
// shape difference, naming the resource; sizes alone pass.
func TestParityGate(t *testing.T) {
	doc := `service_stack: {app_service: enabled, database: managed_postgres, cache: redis}
services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: [error_rate > 1% for 30s]
    rollback_action: deploy previous_stable
environments:
  - name: dev
    stack: {database: {size: small}}
  - name: staging
    stack: {database: {size: medium}}
  - name: production
    stack: {database: {size: large}, cache: {memory: 4gb}}
pipeline:
  pull_request: [parity]
  steps:
    parity: {gate: parity, impact: block}
`
	run := func(doc string) (Report, string) {
		t.Helper()
		dir := t.TempDir()
		file := filepath.Join(dir, "belay.yaml")
		if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := spec.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		var live strings.Builder
		r := &Runner{Project: p, Dir: dir, Commit: "abc123", Gates: map[spec.Gate]Gate{spec.GateParity: ParityGate(p)}, Out: &syncBuilder{b: &live}}
		rep, err := r.Run(context.Background(), "pull_request")
		if err != nil {
			t.Fatal(err)
		}
		return rep, live.String()
	}
	rep, out := run(doc)
	if rep.Status != StatusPassed || !strings.Contains(rep.Steps[0].Summary, "2 environment pair(s) compared: 0 difference(s)") {
		t.Fatalf("sizes only: %s %+v\n%s", rep.Status, rep.Steps[0], out)
	}
	rep, out = run(strings.Replace(doc, "cache: {memory: 4gb}", "cache: {memory: 4gb, version: \"7.2\"}", 1))
	s := rep.Steps[0]
	if rep.Status != StatusBlocked || len(s.Findings) != 1 || s.Findings[0].Message != `cache/api version: staging (absent), production 7.2` {
		t.Fatalf("version only in production: %s %+v\n%s", rep.Status, s, out)
	}
	if !strings.Contains(out, `cache/api version: staging "(absent)", production "7.2"`) {
		t.Errorf("output does not name the difference:\n%s", out)
	}
}
