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
	"github.com/belay-dev/belay/internal/target/kubernetes"
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

// kubeFleetYAML is fleetYAML with analysis from Prometheus, as a service
// in a kubernetes environment needs.
var kubeFleetYAML = strings.Replace(fleetYAML, "    rollback_action: deploy previous_stable\n",
	"    rollback_action: deploy previous_stable\n    analysis: {source: prometheus, prometheus: {url: \"http://127.0.0.1:9090\"}}\n", 1)

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
	if _, err := serverTarget(p, file, filepath.Join(dir, "agent.sock"), nil); err == nil ||
		!strings.Contains(err.Error(), "host web1: the variable BELAY_TEST_FLEET_TOKEN named by its token_env is not set") {
		t.Fatalf("unset token variable: %v", err)
	}
	t.Setenv("BELAY_TEST_FLEET_TOKEN", "x")
	if _, err := serverTarget(p, file, filepath.Join(dir, "agent.sock"), nil); err == nil || !strings.Contains(err.Error(), "host web1: ca_file") {
		t.Fatalf("missing ca_file: %v", err)
	}
	if _, _, err := apitls.SelfSigned(filepath.Join(dir, "certs"), "10.0.0.11", time.Now(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	tgt, err := serverTarget(p, file, filepath.Join(dir, "agent.sock"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := tgt.(*fleet.Router)
	if !ok || len(r.Fleets) != 1 || r.Fleets["production"] == nil {
		t.Fatalf("target %T %+v: want a fleet for production only", tgt, tgt)
	}
}

// TestServerTargetKubernetes: an environment with target: kubernetes is
// driven by its cluster's target, built from its kubernetes: block (the
// kubeconfig relative to belay.yaml, the image copied to REGISTRY/SERVICE),
// and the router hands it its environment's calls and drift; the others
// stay on the local agent. The cluster side is tested end to end in
// cmd/belay's kubernetes scripts.
func TestServerTargetKubernetes(t *testing.T) {
	dir := t.TempDir()
	kc := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: other, context: {cluster: c, user: u}}, {name: mine, context: {cluster: c, user: u, namespace: shop}}]
current-context: other
`
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(kubeFleetYAML, `    listen: 0.0.0.0:8080
    hosts:
      - {name: web1, api: 10.0.0.11:7070, token_env: BELAY_TEST_FLEET_TOKEN, ca_file: certs/api.crt}
`, `    target: kubernetes
    kubernetes: {namespace: shop, registry: 127.0.0.1:5000/shop, kubeconfig: kubeconfig, context: mine, abort_cleanup: 2s}
`, 1)
	file := filepath.Join(dir, "belay.yaml")
	p, err := spec.ParseProject(file, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := serverTarget(p, file, filepath.Join(dir, "agent.sock"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := tgt.(*fleet.Router)
	if !ok || len(r.Kubernetes) != 1 || len(r.Fleets) != 0 {
		t.Fatalf("target %T %+v: want a kubernetes target for production only", tgt, tgt)
	}
	k, ok := r.Kubernetes["production"].(*kubernetes.Images)
	if !ok {
		t.Fatalf("production's target is %T", r.Kubernetes["production"])
	}
	if got := k.Repository("hello"); got != "127.0.0.1:5000/shop/hello" {
		t.Errorf("image repository %q", got)
	}
	// The router passes production's calls to the cluster (unreachable
	// here, and named so); staging's drift is the local agent's: none.
	_, err = r.Drift(t.Context(), "production", "hello")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("production's drift through the router: %v, want the cluster's address in the error", err)
	}
	if d, err := r.Drift(t.Context(), "staging", "hello"); err != nil || d != nil {
		t.Errorf("staging's drift = %v, %v", d, err)
	}
	if _, err := r.Counters(t.Context(), "production", "hello"); err == nil || !strings.Contains(err.Error(), "source: prometheus") {
		t.Errorf("production's counters: %v", err)
	}
	// A kubeconfig that is not there is named at start, not at the first deploy.
	bad := strings.Replace(doc, "kubeconfig: kubeconfig", "kubeconfig: missing", 1)
	if p, err = spec.ParseProject(file, []byte(bad)); err != nil {
		t.Fatal(err)
	}
	if _, err := serverTarget(p, file, "agent.sock", nil); err == nil || !strings.Contains(err.Error(), "environment production") || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing kubeconfig: %v", err)
	}
}
