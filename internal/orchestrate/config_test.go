package orchestrate

import (
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target"
)

func hello(t *testing.T) *spec.Project {
	t.Helper()
	p, err := spec.Load("../../examples/hello/belay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRolloutConfigMapsBelayYAML(t *testing.T) {
	p := hello(t)
	pl := planView{ReleaseID: "7", Service: "hello", Version: "hello-2026.05.12-8f3a91c", Digest: "sha256:new",
		MigrationType: "expand_only", PreviousStable: "hello-2026.05.10-41c2d2a"}
	cfg, err := rolloutConfig(p, pl, "production", "sha256:old")
	if err != nil {
		t.Fatal(err)
	}
	// belay.yaml says 10 %, 50 %, 100 %: the engine takes percent, spec keeps fractions.
	want := []rollout.Step{{Weight: 10, MinDuration: 5 * time.Second}, {Weight: 50, MinDuration: 5 * time.Second}, {Weight: 100}}
	if len(cfg.Steps) != len(want) {
		t.Fatalf("steps %+v", cfg.Steps)
	}
	for i := range want {
		if cfg.Steps[i] != want[i] {
			t.Errorf("step %d: %+v, want %+v", i, cfg.Steps[i], want[i])
		}
	}
	if cfg.Stable == nil || cfg.Stable.Version != "hello-2026.05.10-41c2d2a" || cfg.Stable.Artifact != "sha256:old" {
		t.Fatalf("stable %+v", cfg.Stable)
	}
	if cfg.New.Instances != 2 || cfg.New.Run.Env["VERSION"] != pl.Version || cfg.New.Health.HTTPPath != "/healthz" {
		t.Fatalf("new %+v", cfg.New)
	}
	if cfg.Base.Listen != "127.0.0.1:18082" || cfg.Base.VersionHeader != api.VersionHeader || cfg.Strategy != rollout.CanaryStrategy {
		t.Fatalf("base %+v strategy %s", cfg.Base, cfg.Strategy)
	}
	pl.PreviousStable = ""
	staging, err := rolloutConfig(p, pl, "staging", "")
	if err != nil {
		t.Fatal(err)
	}
	if staging.Strategy != rollout.AllAtOnce || staging.Stable != nil {
		t.Fatalf("staging: %s, stable %+v (no previous stable there)", staging.Strategy, staging.Stable)
	}
}

func TestSmokeTestsAndHooksMapped(t *testing.T) {
	svc := hello(t).Service("hello")
	tests := smokeTests(svc)
	if len(tests) != 1 || tests[0].HTTP == nil || tests[0].HTTP.Path != "/" || tests[0].HTTP.BodyContains != "hello" {
		t.Fatalf("smoke %+v", tests)
	}
	st := rollout.State{Config: rollout.Config{ID: "4", Service: "hello", Environment: "staging",
		New: target.Version{Version: "v2"}, Stable: &target.Version{Version: "v1"}}, Phase: rollout.Migrating}
	if hooks := phaseHooks(svc, st, "/tmp"); len(hooks) != 0 {
		t.Fatalf("hello has no migration: %+v", hooks)
	}
	svc.Migration = &spec.Migration{Command: "./migrate up", Type: spec.ExpandOnly, Timeout: spec.Duration(time.Minute)}
	svc.Hooks = &spec.Hooks{PreDeploy: "./warm", PostPromote: "./announce", PostRollback: "./page"}
	hooks := phaseHooks(svc, st, "/app")
	if len(hooks) != 2 || hooks[0].Command != "./migrate up" || hooks[0].Env["BELAY_ENVIRONMENT"] != "staging" ||
		hooks[0].Timeout != time.Minute || hooks[1].Name != "pre_deploy" || hooks[1].Env["BELAY_VERSION"] != "v2" {
		t.Fatalf("pre-deploy hooks %+v", hooks)
	}
	st.Phase = rollout.Promoting
	if hooks = phaseHooks(svc, st, "/app"); len(hooks) != 1 || hooks[0].Name != "post_promote" || hooks[0].Env["BELAY_STABLE_VERSION"] != "v1" {
		t.Fatalf("post-promote hooks %+v", hooks)
	}
	st.Phase, st.RollbackTo = rollout.RollingBack, &target.Version{Version: "v0"}
	if hooks = phaseHooks(svc, st, "/app"); len(hooks) != 1 || hooks[0].Name != "post_rollback" || hooks[0].Env["BELAY_ROLLBACK_TO"] != "v0" {
		t.Fatalf("post-rollback hooks %+v", hooks)
	}
	for _, ph := range []rollout.Phase{rollout.Deploying, rollout.Canary, rollout.Succeeded} {
		if st.Phase = ph; len(phaseHooks(svc, st, "/app")) != 0 {
			t.Errorf("%s runs hooks", ph)
		}
	}
}

func TestShadowAndReplayStepsMapped(t *testing.T) {
	const yaml = `
services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout:
      strategy: canary
      shadow: {methods: [GET, PUT], max_in_flight: 8, max_rate: 100, drop_headers: [X-Api-Key]}
      steps:
        - {shadow: 50%, min_duration: 1m}
        - {weight: 10%, min_duration: 1m}
        - {weight: 100%}
    rollback_trigger: ["error_rate > 1% for 5m"]
    rollback_action: deploy previous_stable
    environments:
      staging:
        rollout:
          strategy: all_at_once
          steps: [{replay: production, min_duration: 30s}]
environments:
  - name: staging
  - name: production
`
	p, err := spec.ParseProject("belay.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	pl := planView{ReleaseID: "1", Service: "api", Version: "api-2", Digest: "sha256:new", PreviousStable: "api-1"}
	prod, err := rolloutConfig(p, pl, "production", "sha256:old")
	if err != nil {
		t.Fatal(err)
	}
	if s := prod.Steps[0]; s.Shadow != 50 || s.Weight != 0 || s.MinDuration != time.Minute || prod.Steps[1].Weight != 10 {
		t.Fatalf("production steps %+v", prod.Steps)
	}
	m := prod.Mirror
	if m == nil || len(m.Methods) != 2 || m.Methods[1] != "PUT" || m.MaxInFlight != 8 || m.MaxRate != 100 || m.ReplayRate != spec.DefaultReplayRate || m.DropHeaders[0] != "X-Api-Key" {
		t.Fatalf("mirror %+v", m)
	}
	staging, err := rolloutConfig(p, pl, "staging", "sha256:old")
	if err != nil {
		t.Fatal(err)
	}
	if len(staging.Steps) != 1 || staging.Steps[0].Replay != "production" || staging.Strategy != rollout.AllAtOnce || staging.Mirror == nil {
		t.Fatalf("staging %+v mirror %+v", staging.Steps, staging.Mirror)
	}
	staging.ID = "1"
	st, err := rollout.New(staging, time.Now())
	if err != nil || len(st.Steps) != 2 || st.Steps[0].Replay != "production" || st.Steps[1].Weight != 100 {
		t.Fatalf("staging rollout: %+v %v", st.Steps, err)
	}
}
