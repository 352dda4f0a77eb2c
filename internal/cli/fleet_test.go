package cli

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/apitls"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target/fleet"
)

const fleetYAML = `project: p
services:
  web:
    run: {command: ./web}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: [error_rate > 1% for 5m]
    rollback_action: deploy previous_stable
environments:
  - name: staging
    listen: 127.0.0.1:18081
  - name: production
    listen: 0.0.0.0:8080
    hosts:
      - {name: web1, api: 10.0.0.11:7070, token_env: BELAY_TEST_FLEET_TOKEN, ca_file: certs/api.crt}
`

// TestServerTargetFromHosts: an environment with hosts gets a fleet, the
// others the local agent; an unset token variable or an unreadable ca_file
// stops the server with a message naming the host.
func TestServerTargetFromHosts(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "belay.yaml")
	if err := os.WriteFile(file, []byte(fleetYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := spec.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BELAY_TEST_FLEET_TOKEN", "")
	if _, err := serverTarget(p, file, filepath.Join(dir, "agent.sock")); err == nil ||
		!strings.Contains(err.Error(), "host web1: the variable BELAY_TEST_FLEET_TOKEN named by its token_env is not set") {
		t.Fatalf("unset token variable: %v", err)
	}
	t.Setenv("BELAY_TEST_FLEET_TOKEN", "x")
	if _, err := serverTarget(p, file, filepath.Join(dir, "agent.sock")); err == nil || !strings.Contains(err.Error(), "host web1: ca_file") {
		t.Fatalf("missing ca_file: %v", err)
	}
	if _, _, err := apitls.SelfSigned(filepath.Join(dir, "certs"), "10.0.0.11", time.Now(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	tgt, err := serverTarget(p, file, filepath.Join(dir, "agent.sock"))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := tgt.(*fleet.Router)
	if !ok || len(r.Fleets) != 1 || r.Fleets["production"] == nil {
		t.Fatalf("target %T %+v: want a fleet for production only", tgt, tgt)
	}
}

// TestServerTargetRefusesKubernetes: belay.yaml accepts a kubernetes
// environment, but a server that cannot drive one says so at start instead
// of deploying it onto the local agent.
func TestServerTargetRefusesKubernetes(t *testing.T) {
	doc := strings.Replace(fleetYAML, `    listen: 0.0.0.0:8080
    hosts:
      - {name: web1, api: 10.0.0.11:7070, token_env: BELAY_TEST_FLEET_TOKEN, ca_file: certs/api.crt}
`, `    target: kubernetes
    kubernetes: {namespace: shop, registry: 127.0.0.1:5000/shop}
`, 1)
	p, err := spec.ParseProject("belay.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serverTarget(p, "belay.yaml", "agent.sock"); err == nil || !strings.Contains(err.Error(), "environment production has target: kubernetes, which this server cannot drive yet") {
		t.Fatalf("err = %v", err)
	}
}
