package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

const shadowDoc = `
services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout:
      strategy: canary
      shadow:
        methods: [GET, HEAD, POST]
        max_rate: 500
      steps:
        - shadow: 100%
          min_duration: 60s
        - weight: 5%
          min_duration: 60s
        - weight: 100%
    rollback_trigger: [error_rate > 1% for 5m]
    rollback_action: deploy previous_stable
    environments:
      staging:
        rollout:
          strategy: all_at_once
          steps:
            - replay: production
              min_duration: 60s
environments:
  - name: staging
  - name: production
`

func TestShadowAndReplaySteps(t *testing.T) {
	p, err := ParseProject("belay.yaml", []byte(shadowDoc))
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := p.Effective("api", "production")
	steps := pr.Rollout.Steps
	if len(steps) != 3 || steps[0].Kind() != StepShadow || steps[0].Shadow != 1 || steps[0].MinDuration.D() != time.Minute ||
		steps[1].Kind() != StepWeight || steps[1].Weight != 0.05 || steps[2].Kind() != StepWeight || steps[2].Weight != 1 {
		t.Errorf("production steps %+v %+v %+v", steps[0], steps[1], steps[2])
	}
	want := ShadowSettings{Methods: []string{"GET", "HEAD", "POST"}, MaxInFlight: DefaultShadowMaxInFlight, MaxRate: 500, ReplayRate: DefaultReplayRate}
	if got := *pr.Rollout.Shadow; !reflect.DeepEqual(got, want) {
		t.Errorf("production shadow %+v, want %+v", got, want)
	}

	st, _ := p.Effective("api", "staging")
	if r := st.Rollout; r.Strategy != AllAtOnce || len(r.Steps) != 1 || r.Steps[0].Kind() != StepReplay ||
		r.Steps[0].Replay != "production" || r.Steps[0].MinDuration.D() != time.Minute {
		t.Errorf("staging rollout %+v", r)
	}
	if got := st.Rollout.Shadow.Effective(); !reflect.DeepEqual(got, want) {
		t.Errorf("staging inherits shadow %+v, want %+v", got, want)
	}

	b, err := json.Marshal(steps[0])
	if err != nil || string(b) != `{"shadow":"100%","min_duration":"1m0s"}` {
		t.Errorf("json %s %v", b, err)
	}

	f := filepath.Join(t.TempDir(), "belay.yaml")
	if err := os.WriteFile(f, []byte(shadowDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := compileSchema(t).Validate(yamlInstance(t, f)); err != nil {
		t.Errorf("schema: %v", err)
	}
}

// Without a shadow: block the rollout has none, and Effective gives the
// defaults the orchestrator uses.
func TestShadowDefaults(t *testing.T) {
	p, err := ParseProject("belay.yaml", []byte(`
services:
  api:
    run: {command: bin/api}
    health_check: {tcp: true}
    rollout:
      strategy: all_at_once
      steps: [{shadow: 25%, min_duration: 5m}]
    rollback_trigger: [error_rate > 1% for 5m]
    rollback_action: deploy previous_stable
environments: [{name: staging}, {name: production}]
`))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Services["api"].Rollout
	if r.Shadow != nil || len(r.Steps) != 1 || r.Steps[0].Kind() != StepShadow || r.Steps[0].Shadow != 0.25 {
		t.Errorf("rollout %+v", r)
	}
	want := ShadowSettings{Methods: []string{"GET", "HEAD", "OPTIONS"}, MaxInFlight: 64, MaxRate: 0, ReplayRate: 50}
	if got := r.Shadow.Effective(); !reflect.DeepEqual(got, want) {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
	d := DefaultShadowMethods()
	d[0] = "POST"
	if DefaultShadowMethods()[0] != "GET" {
		t.Error("DefaultShadowMethods shares its slice")
	}
}

// An environment's own shadow: block replaces the service's whole; one
// without a shadow or replay step of its own is refused only where it is
// written.
func TestShadowOverride(t *testing.T) {
	p, err := ParseProject("belay.yaml", []byte(`
services:
  api:
    run: {command: bin/api}
    health_check: {tcp: true}
    rollout:
      strategy: canary
      shadow: {max_in_flight: 8}
      steps: [{weight: 10%}, {weight: 100%}]
    rollback_trigger: [error_rate > 1% for 5m]
    rollback_action: deploy previous_stable
    environments:
      staging:
        rollout:
          strategy: canary
          shadow: {replay_rate: 5}
          steps: [{replay: production, min_duration: 1m}, {shadow: 50%}, {weight: 100%}]
      production:
        rollout:
          strategy: staged
          steps: [{shadow: 100%}, {weight: 10%}, {weight: 100%}]
environments: [{name: staging}, {name: production}]
`))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := p.Effective("api", "staging")
	pr, _ := p.Effective("api", "production")
	if s := st.Rollout.Shadow; s.MaxInFlight != DefaultShadowMaxInFlight || s.ReplayRate != 5 {
		t.Errorf("staging shadow %+v", s)
	}
	if s := pr.Rollout.Shadow; s.MaxInFlight != 8 || s.ReplayRate != DefaultReplayRate {
		t.Errorf("production shadow %+v", s)
	}
}
