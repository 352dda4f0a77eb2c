package spec

import (
	"strings"
	"testing"
	"time"
)

func TestEffectiveAppliesOverrides(t *testing.T) {
	p, err := Load("../../examples/case-study/belay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Effective("api", "staging")
	if err != nil {
		t.Fatal(err)
	}
	if st.Instances != 1 || st.Rollout.Strategy != AllAtOnce || st.Listen != "127.0.0.1:8081" || st.Production || !st.AutoRollback {
		t.Errorf("staging: %+v", st)
	}
	if st.Rollout.DrainTimeout != DefaultDrainTimeout {
		t.Errorf("override rollout lacks defaults: %+v", st.Rollout)
	}
	pr, err := p.Effective("api", "production")
	if err != nil {
		t.Fatal(err)
	}
	if pr.Instances != 3 || pr.Rollout.Strategy != Staged || len(pr.Rollout.Steps) != 4 || !pr.Production || pr.Listen != "127.0.0.1:8082" {
		t.Errorf("production: %+v", pr)
	}
	if pr.Env["LOG_LEVEL"] != "info" {
		t.Errorf("env not inherited: %v", pr.Env)
	}
	if _, err := p.Effective("apj", "production"); err == nil || !strings.Contains(err.Error(), `did you mean "api"`) {
		t.Errorf("unknown service: %v", err)
	}
	if _, err := p.Effective("api", "prod"); err == nil || !strings.Contains(err.Error(), `environment "prod" is not defined`) {
		t.Errorf("unknown environment: %v", err)
	}
}

func TestEffectiveMergesEnvAndListen(t *testing.T) {
	p, err := ParseProject("x.yaml", []byte(`
flags:
  new-ui: {variants: {on: true, off: false}, defaultVariant: on}
services:
  web:
    run: {command: bin/web, env: {A: "1", B: 2}}
    health_check: {tcp: true}
    rollout: {strategy: all_at_once}
    rollback_trigger: [error_rate > 5%]
    rollback_action: [disable_flag new-ui, deploy previous_stable]
    environments:
      production: {listen: "127.0.0.1:9000", env: {B: "3", C: x}, instances: 4}
environments:
  - name: production
    listen: 127.0.0.1:8000
    auto_rollback: false
`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := p.Effective("web", "production")
	if err != nil {
		t.Fatal(err)
	}
	if e.Listen != "127.0.0.1:9000" || e.Instances != 4 || e.AutoRollback || !e.Production {
		t.Errorf("%+v", e)
	}
	if e.Env["A"] != "1" || e.Env["B"] != "3" || e.Env["C"] != "x" {
		t.Errorf("env %v", e.Env)
	}
	if p.Service("web").Run.Env["B"] != "2" {
		t.Error("override changed the service's own env")
	}
	acts := p.Service("web").RollbackAction
	if len(acts) != 2 || acts[0] != (RollbackAction{ActionDisableFlag, "new-ui"}) || acts[1] != (RollbackAction{ActionDeploy, PreviousStable}) {
		t.Errorf("actions %v", acts)
	}
}

func TestOverrideRolloutInherits(t *testing.T) {
	p, err := ParseProject("x.yaml", []byte(`
services:
  web:
    run: {command: bin/web}
    health_check: {tcp: true}
    rollout:
      strategy: canary
      steps: [{weight: 10%, min_duration: 1m}, {weight: 100%}]
      drain_timeout: 5s
      sticky: {cookie: v}
    rollback_trigger: [error_rate > 5%]
    rollback_action: deploy previous_stable
    environments:
      staging: {rollout: {strategy: all_at_once}}
      production: {rollout: {strategy: staged}}
environments: [{name: staging}, {name: production}]
`))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := p.Effective("web", "staging")
	pr, _ := p.Effective("web", "production")
	if st.Rollout.Strategy != AllAtOnce || len(st.Rollout.Steps) != 0 || st.Rollout.DrainTimeout.D() != 5e9 || st.Rollout.Sticky.Cookie != "v" {
		t.Errorf("staging %+v", st.Rollout)
	}
	if pr.Rollout.Strategy != Staged || len(pr.Rollout.Steps) != 2 || pr.Rollout.DrainTimeout.D() != 5e9 {
		t.Errorf("production %+v", pr.Rollout)
	}
}

func TestWatchAndKeepPrevious(t *testing.T) {
	p, err := ParseProject("x.yaml", []byte(`
services:
  web:
    run: {command: bin/web}
    health_check: {tcp: true}
    rollout:
      strategy: canary
      steps: [{weight: 10%, min_duration: 1m}, {weight: 100%}]
      watch: 10m
      keep_previous: false
    rollback_trigger: [error_rate > 5%]
    rollback_action: deploy previous_stable
    environments:
      dev: {rollout: {strategy: all_at_once, watch: 0s}}
      staging: {rollout: {strategy: all_at_once}}
      production: {rollout: {strategy: staged, watch: 1h, keep_previous: true}}
  api:
    run: {command: bin/api}
    health_check: {tcp: true}
    rollout: {strategy: all_at_once}
    rollback_trigger: [error_rate > 5%]
    rollback_action: deploy previous_stable
environments: [{name: dev}, {name: staging}, {name: production}]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		svc, env string
		watch    time.Duration
		keep     bool
	}{
		{"web", "dev", 0, false},                    // watch: 0s turns the service's watch off
		{"web", "staging", 10 * time.Minute, false}, // both inherited
		{"web", "production", time.Hour, true},
		{"api", "production", 0, true}, // defaults: no watch, keep the previous stable
	} {
		e, err := p.Effective(c.svc, c.env)
		if err != nil {
			t.Fatal(err)
		}
		if e.Rollout.Watch.D() != c.watch || e.Rollout.KeepPrevious != c.keep {
			t.Errorf("%s/%s: watch %s keep_previous %v, want %s %v", c.svc, c.env, e.Rollout.Watch, e.Rollout.KeepPrevious, c.watch, c.keep)
		}
	}
}

func TestTargetLocal(t *testing.T) {
	p, err := ParseProject("x.yaml", []byte(`
services:
  web:
    run: {command: bin/web}
    health_check: {tcp: true}
    rollout: {strategy: all_at_once}
    rollback_trigger: [error_rate > 5%]
    rollback_action: deploy previous_stable
environments: [{name: staging, target: local}, {name: production}]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Environments {
		if e.Target != TargetLocal {
			t.Errorf("%s: target %q, want local", e.Name, e.Target)
		}
	}
}

func TestOnRejectedDownstream(t *testing.T) {
	p, err := ParseProject("x.yaml", []byte(`
services:
  web:
    run: {command: bin/web}
    health_check: {tcp: true}
    rollout: {strategy: all_at_once}
    rollback_trigger: [error_rate > 5%]
    rollback_action: deploy previous_stable
environments:
  - {name: dev}
  - {name: staging, on_rejected_downstream: rollback}
  - {name: production}
`))
	if err != nil {
		t.Fatal(err)
	}
	for env, want := range map[string]DownstreamPolicy{"dev": DownstreamKeep, "staging": DownstreamRollback, "production": DownstreamKeep} {
		if got := p.Environment(env).OnRejectedDownstream; got != want {
			t.Errorf("%s: on_rejected_downstream %q, want %q", env, got, want)
		}
	}
}
