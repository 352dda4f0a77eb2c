package orchestrate

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/rollout/rollouttest"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/target"
)

// kubeProject is the harness's project with production on a cluster.
const kubeProject = `project: shop
analysis: {source: prometheus, prometheus: {url: "http://127.0.0.1:9090"}}
services:
  api:
    build: {command: "true", outputs: [bin/api]}
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger:
      - error_rate > 1% for 30s
    rollback_action: deploy previous_stable
environments:
  - name: staging
    listen: 127.0.0.1:18081
  - name: production
    target: kubernetes
    kubernetes: {namespace: shop, registry: 127.0.0.1:5000/shop}
`

// drifting is the harness's target with what a cluster would report
// changed outside belay (target.Drifter), per environment.
type drifting struct {
	*rollouttest.Target
	mu    sync.Mutex
	drift map[string][]target.Drift
	asked map[string]int
}

func (d *drifting) Drift(_ context.Context, env, service string) ([]target.Drift, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked[env]++
	return d.drift[env], nil
}

func (d *drifting) set(env string, ds ...target.Drift) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.drift[env] = ds
}

// TestDriftBlocksRolloutUnlessAdopted: before deploying into an environment
// whose target reports drift, the rollout stops in InfrastructurePlan with
// the drift as evidence and no traffic moved; a release with Adopt deploys
// over it, and the adoption is audited with who and what.
func TestDriftBlocksRolloutUnlessAdopted(t *testing.T) {
	h := newHarness(t, "")
	if err := os.WriteFile(h.file, []byte(kubeProject), 0o644); err != nil {
		t.Fatal(err)
	}
	tgt := &drifting{Target: h.target, drift: map[string][]target.Drift{}, asked: map[string]int{}}
	o, err := New(Deps{
		Store: h.st, Target: tgt, Artifacts: artifacts{map[string]bool{"api-v1": true, "api-v2": true}, h.refs, h.dirs},
		Judge: rollout.JudgeFunc(func(context.Context, rollout.State) (analysis.Verdict, error) {
			return analysis.Verdict{Decision: analysis.Pass, Reason: "scripted", At: h.clock()}, nil
		}),
		Project: func() (*spec.Project, error) { return spec.Load(h.file) },
		Now:     h.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.o = o

	v1 := h.release("api-v1")
	if v := h.settled(v1.Release); v.Outcome != "succeeded" {
		t.Fatalf("v1: %s (%s)", v.Outcome, v.Reason)
	}
	if tgt.asked["production"] != 1 {
		t.Errorf("production's drift read %d times before v1, want once", tgt.asked["production"])
	}

	// Someone scaled the stable Deployment by hand.
	tgt.set("production", target.Drift{Object: "Deployment/api-production-api-v1", Field: "spec.replicas", Want: "1", Found: "3"})
	v2 := h.release("api-v2")
	v := h.settled(v2.Release)
	if v.Outcome == "succeeded" {
		t.Fatalf("v2 went through production over drift: %+v", v)
	}
	if h.stable("production") != "api-v1" || h.weights("production") != "api-v1=100" {
		t.Fatalf("production after the blocked rollout: stable %s, weights %s; want api-v1 untouched", h.stable("production"), h.weights("production"))
	}
	prod := v.Rollouts[len(v.Rollouts)-1]
	if prod.Environment != "production" {
		t.Fatalf("last rollout %+v", prod)
	}
	trs, err := h.st.Transitions(h.ctx, prod.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := trs[len(trs)-1]
	if last.From != string(rollout.InfrastructurePlan) || last.To != string(rollout.Failed) ||
		!strings.Contains(last.Reason, `Deployment/api-production-api-v1 spec.replicas: belay applied "1", found "3"`) ||
		!strings.Contains(last.Reason, "belay release --adopt") || !strings.Contains(last.Reason, "no traffic moved") ||
		!strings.Contains(string(last.Evidence), `"found":"3"`) || !strings.Contains(string(last.Evidence), `"target_drift"`) {
		t.Fatalf("last transition %s → %s: %s\nevidence %s", last.From, last.To, last.Reason, last.Evidence)
	}

	// Adopted: deployed over, with an audit entry naming who and what.
	ans, err := h.o.Release(h.ctx, api.ReleaseRequest{Service: "api", Version: "api-v2", Owner: "ann", Actor: "bob", Environment: "production", Adopt: true})
	if err != nil {
		t.Fatal(err)
	}
	if v := h.settled(ans.Release); v.Outcome != "succeeded" {
		t.Fatalf("adopted v2: %s (%s)", v.Outcome, v.Reason)
	}
	if h.stable("production") != "api-v2" {
		t.Fatalf("production's stable %s, want api-v2", h.stable("production"))
	}
	entries, err := h.st.AuditSince(h.ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var adopted []store.AuditEntry
	for _, e := range entries {
		if e.Action == "rollout.drift.adopted" {
			adopted = append(adopted, e)
		}
	}
	if len(adopted) != 1 {
		t.Fatalf("%d rollout.drift.adopted entries, want 1: %+v", len(adopted), entries)
	}
	if a := adopted[0]; a.Actor != "bob" || !strings.Contains(a.Reason, "spec.replicas") || !strings.Contains(string(a.Detail), "Deployment/api-production-api-v1") ||
		!strings.HasPrefix(a.Subject, "rollout/") {
		t.Errorf("audit entry %+v detail %s", a, a.Detail)
	}
}
