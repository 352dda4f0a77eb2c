package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The case study's belay.yaml keeps the seed's blocks as the seed writes them.
func TestCaseStudyKeepsSeedBlocks(t *testing.T) {
	p, err := Load("../../examples/case-study/belay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"pull_request": {"install", "lint", "typecheck", "unit_tests", "dependency_audit", "build"},
		"main_branch":  {"integration_tests", "migration_check", "container_scan", "build_artifact", "publish_artifact"},
		"deploy":       {"deploy_staging", "smoke_tests", "deploy_production_canary", "monitor_health", "promote_or_rollback"},
	}
	for _, st := range p.Pipeline.Stages() {
		if !reflect.DeepEqual(st.Steps, want[st.Name]) {
			t.Errorf("%s: %v", st.Name, st.Steps)
		}
	}
	stack := map[string]string{"app_service": "enabled", "database": "managed_postgres", "cache": "redis", "queue": "managed_queue",
		"object_storage": "enabled", "monitoring": "enabled", "log_forwarding": "enabled", "backups": "enabled"}
	if got := p.ServiceStack.Components(); !reflect.DeepEqual(got, stack) {
		t.Errorf("service_stack %v", got)
	}
	gates := map[string]Impact{"dependency_audit": ImpactBlockCritical, "migration_check": ImpactBlockUnsafe,
		"container_scan": ImpactBlockCritical, "smoke_tests": ImpactBlockPromotion, "lint": ImpactBlock}
	for name, imp := range gates {
		if p.Pipeline.Steps[name].Impact != imp {
			t.Errorf("%s impact %s", name, p.Pipeline.Steps[name].Impact)
		}
	}
	var lines []string
	for _, tr := range p.Service("api").RollbackTrigger {
		lines = append(lines, tr.Raw)
	}
	if strings.Join(lines, "; ") != "error_rate > 1% for 5m; p95_latency > 900ms for 10m; health_check_failures > 3" {
		t.Errorf("triggers %v", lines)
	}
	seed, err := LoadReleasePlan("../../examples/case-study/release-plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seed.File = p.ReleasePlan.File
	if !reflect.DeepEqual(seed, p.ReleasePlan) {
		t.Errorf("release plan in belay.yaml differs from release-plan.yaml")
	}
	if !reflect.DeepEqual(seed.RollbackTrigger, p.Service("api").RollbackTrigger) {
		t.Errorf("service triggers differ from the release plan's")
	}
}

func TestProjectOrderAndProduction(t *testing.T) {
	p, err := ParseProject("x.yaml", []byte(`
services:
  zeta: &svc
    run: {command: bin/z}
    health_check: {tcp: true}
    rollout: {strategy: all_at_once}
    rollback_trigger: [restarts > 2]
    rollback_action: deploy previous_stable
  alpha: *svc
environments:
  - {name: dev}
  - {name: qa, protection: {require_approval: true, approvers: [ann]}}
  - {name: prod}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.ServiceNames(); !reflect.DeepEqual(got, []string{"zeta", "alpha"}) {
		t.Errorf("order %v", got)
	}
	if got := p.EnvironmentNames(); !reflect.DeepEqual(got, []string{"dev", "qa", "prod"}) {
		t.Errorf("envs %v", got)
	}
	prod := []bool{false, true, true}
	for i, e := range p.Environments {
		if p.Production(e) != prod[i] {
			t.Errorf("%s production=%v", e.Name, p.Production(e))
		}
	}
	if p.Next("dev").Name != "qa" || p.Next("prod") != nil || p.Environment("qa").Protection.Approvers[0] != "ann" {
		t.Error("Next/Environment wrong")
	}
	if p.Service("alpha").Name != "alpha" || p.Service("zeta").Name != "zeta" {
		t.Error("aliased services share a name")
	}
	if p.Dir() != "." {
		t.Errorf("Dir %q", p.Dir())
	}
	if p.Artifacts.Store != "local" || p.Environments[0].Target != TargetLocal {
		t.Error("defaults not applied")
	}
}

func TestLoadKinds(t *testing.T) {
	if _, err := Load("../../examples/case-study/release-plan.yaml"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "this is a release plan, not a project") {
		t.Errorf("Load of a plan: %v", err)
	}
	if _, err := LoadReleasePlan("../../examples/hello/belay.yaml"); !errors.Is(err, ErrInvalid) {
		t.Errorf("LoadReleasePlan of a project: %v", err)
	}
	doc, err := LoadDocument("../../examples/case-study/release-plan.yaml")
	if err != nil || doc.Kind != KindReleasePlan || doc.Project != nil {
		t.Errorf("%+v %v", doc, err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte(strings.Repeat("# x\n", maxFileSize/4+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
}

// Aliases that multiply the work (each of many services aliasing one with
// many smoke tests) are cut off with an error instead of being followed.
func TestAliasBombIsRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("x-test: &t {name: t, command: ./smoke}\nx-svc: &svc\n  run: {command: bin/api}\n  health_check: {tcp: true}\n  smoke_tests: [")
	for i := range 2000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("*t")
	}
	b.WriteString("]\nservices:\n")
	for i := range 300 {
		fmt.Fprintf(&b, "  s%d: *svc\n", i)
	}
	b.WriteString("environments: [{name: production}]\n")
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "document too large") {
		t.Fatalf("got %.500v", err)
	}
}

// Top-level keys starting with x- hold anchors and are otherwise ignored.
func TestExtensionKeysHoldAnchors(t *testing.T) {
	_, err := ParseProject("x.yaml", []byte(`
x-defaults: &run {command: bin/api}
services:
  api:
    run: *run
    health_check: {tcp: true}
    rollout: {strategy: all_at_once}
    rollback_trigger: [error_rate > 1%]
    rollback_action: deploy previous_stable
environments: [{name: production}]
`))
	if err != nil {
		t.Fatal(err)
	}
}
