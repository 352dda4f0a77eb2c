package spec

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

const kubeDoc = `
services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: canary, steps: [{weight: 25%}, {weight: 100%}]}
    rollback_trigger: [error_rate > 1% for 5m]
    rollback_action: deploy previous_stable
    analysis: {source: prometheus, prometheus: {url: "http://127.0.0.1:9090"}}
    environments:
      staging: {instances: 2}
environments:
  - name: staging
    target: kubernetes
    kubernetes:
      kubeconfig: ~/.kube/config
      context: stage
      namespace: shop
      registry: 127.0.0.1:5000/shop
      replicas: 4
  - name: production
    target: kubernetes
    kubernetes:
      kubeconfig: kube/prod.yaml
      namespace: shop
      registry: registry.example.com/shop/
      gateway: {name: web, namespace: infra}
      abort_cleanup: 30s
`

// A kubernetes environment is accepted with its defaults: traffic follows
// whether a gateway is named, abort_cleanup 5m unless set , replicas
// is the environment's default instances.
func TestKubernetesEnvironment(t *testing.T) {
	p, err := ParseProject("/proj/belay.yaml", []byte(kubeDoc))
	if err != nil {
		t.Fatal(err)
	}
	st, prod := p.Environment("staging").Kubernetes, p.Environment("production").Kubernetes
	if st.Traffic != TrafficReplicas || prod.Traffic != TrafficGateway {
		t.Errorf("traffic: staging %s, production %s; want replicas, gateway", st.Traffic, prod.Traffic)
	}
	if st.AbortCleanup != DefaultAbortCleanup || prod.AbortCleanup != Duration(30*time.Second) {
		t.Errorf("abort_cleanup: staging %s, production %s; want 5m, 30s", st.AbortCleanup, prod.AbortCleanup)
	}
	if st.GatewayNamespace() != "shop" || prod.GatewayNamespace() != "infra" {
		t.Errorf("gateway namespaces %q %q", st.GatewayNamespace(), prod.GatewayNamespace())
	}
	if got := prod.Image("api"); got != "registry.example.com/shop/api" {
		t.Errorf("image %q", got)
	}
	for env, want := range map[string]int{"staging": 2, "production": 1} {
		eff, err := p.Effective("api", env)
		if err != nil {
			t.Fatal(err)
		}
		if eff.Instances != want || eff.Listen != "" {
			t.Errorf("%s: instances %d listen %q; want %d and none", env, eff.Instances, eff.Listen, want)
		}
	}
	p.Services["api"].Environments = nil
	if eff, _ := p.Effective("api", "staging"); eff.Instances != 4 {
		t.Errorf("staging without an override: instances %d, want the kubernetes block's 4", eff.Instances)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := st.KubeconfigFile("/proj"); f != filepath.Join(home, ".kube/config") {
		t.Errorf("kubeconfig %q", f)
	}
	if f, _ := prod.KubeconfigFile("/proj"); f != "/proj/kube/prod.yaml" {
		t.Errorf("kubeconfig %q", f)
	}
	if f, _ := (&Kubernetes{}).KubeconfigFile("/proj"); f != "" {
		t.Errorf("in-cluster kubeconfig %q, want empty", f)
	}
	if time.Duration(DefaultAbortCleanup) != 5*time.Minute {
		t.Error("the documented default is 5m")
	}
	f := filepath.Join(t.TempDir(), "belay.yaml")
	if err := os.WriteFile(f, []byte(kubeDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := compileSchema(t).Validate(yamlInstance(t, f)); err != nil {
		t.Errorf("the schema refuses a kubernetes environment: %v", err)
	}
}
