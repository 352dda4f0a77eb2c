package ci

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/gate/secrets/secretstest"
	"github.com/belay-dev/belay/internal/gate/vuln"
	"github.com/belay-dev/belay/internal/spec"
)

const project = `services:
  api:
    build: {command: "true", outputs: [bin/api, migrations]}
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: [error_rate > 1% for 30s]
    rollback_action: deploy previous_stable
    migration: {command: "true", type: expand_only, files: [migrations/*.sql], in_transaction: true}
environments:
  - name: staging
  - name: production
pipeline:
  pull_request: [lint, flaky, left, right, migrations]
  main_branch: [health]
  deploy: [ship]
  steps:
    lint: {run: "echo linted", impact: block}
    flaky: {run: "echo flaky >&2; exit 3", impact: warn}
    left: {run: "sleep 0.3; echo left", impact: block, parallel: true}
    right: {run: "sleep 0.3; echo right", impact: block, parallel: true}
    migrations: {gate: migration_check, impact: block_unsafe}
    health: {run: "exit 1", impact: block_promotion}
    ship: {deploy: production, impact: block}
`

func runner(t *testing.T, sql string) (*Runner, *strings.Builder) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "belay.yaml")
	os.WriteFile(file, []byte(project), 0o644)
	os.MkdirAll(filepath.Join(dir, "migrations"), 0o755)
	os.WriteFile(filepath.Join(dir, "migrations", "001.sql"), []byte(sql), 0o644)
	p, err := spec.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	var live strings.Builder
	return &Runner{Project: p, Dir: dir, Commit: "abc123", Gates: map[spec.Gate]Gate{spec.GateMigrationCheck: MigrationGate(p)}, Out: &syncBuilder{b: &live}}, &live
}

// syncBuilder is a strings.Builder parallel steps may write to.
type syncBuilder struct{ b *strings.Builder }

func (s *syncBuilder) Write(p []byte) (int, error) { return s.b.Write(p) } // prefixWriter locks

// A stage's steps run in order, the parallel ones at once, each judged by
// its impact: a warn step's failure does not block, an unsafe migration
// under block_unsafe does; the output streams prefixed by step.
func TestRunJudgesStepsByImpact(t *testing.T) {
	r, live := runner(t, "SET lock_timeout = '1s';\nALTER TABLE users DROP COLUMN bio;\n")
	rep, err := r.Run(context.Background(), "pull_request")
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	byName := map[string]StepResult{}
	for _, s := range rep.Steps {
		status[s.Name], byName[s.Name] = s.Status, s
	}
	want := map[string]string{"lint": Passed, "flaky": Warned, "left": Passed, "right": Passed, "migrations": Failed}
	for name, st := range want {
		if status[name] != st {
			t.Errorf("%s: %s; want %s (%+v)", name, status[name], st, byName[name])
		}
	}
	if rep.Status != StatusBlocked || rep.Commit != "abc123" {
		t.Errorf("report %s on %s; want blocked", rep.Status, rep.Commit)
	}
	if l, r := byName["left"], byName["right"]; !r.Started.Before(l.Started.Add(l.Duration)) || !l.Started.Before(r.Started.Add(r.Duration)) {
		t.Errorf("parallel steps did not overlap: left %v+%v, right %v+%v", l.Started, l.Duration, r.Started, r.Duration)
	}
	if byName["flaky"].ExitCode != 3 || !strings.Contains(byName["flaky"].Output, "flaky") {
		t.Errorf("flaky: %+v", byName["flaky"])
	}
	m := byName["migrations"]
	if len(m.Findings) == 0 || m.Findings[0].Rule != "ban-drop-column" || m.Findings[0].File != "migrations/001.sql" || m.Findings[0].Line != 2 || m.Findings[0].Level != "error" {
		t.Errorf("migration findings %+v", m.Findings)
	}
	for _, line := range []string{"lint | linted", "flaky | flaky", "left | left", "right | right", "migrations | migrations/001.sql:2:1 ban-drop-column"} {
		if !strings.Contains(live.String(), line) {
			t.Errorf("live output lacks %q:\n%s", line, live)
		}
	}

	// JUnit: a case per step, the blocking failure a failure, the warning skipped.
	b, err := rep.JUnit()
	if err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
		Cases    []struct {
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
		} `xml:"testcase"`
	}
	if err := xml.Unmarshal(b, &suite); err != nil || suite.Tests != 5 || suite.Failures != 1 || suite.Skipped != 1 || suite.Cases[4].Failure == nil {
		t.Errorf("junit %+v, %v:\n%s", suite, err, b)
	}
	// SARIF: the gate's findings with rule and place.
	b, err = rep.SARIF()
	if err != nil {
		t.Fatal(err)
	}
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &sarif); err != nil || sarif.Version != "2.1.0" || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) == 0 ||
		sarif.Runs[0].Results[0].RuleID != "ban-drop-column" || sarif.Runs[0].Results[0].Locations[0].PhysicalLocation.Region.StartLine != 2 {
		t.Errorf("sarif %+v, %v:\n%s", sarif, err, b)
	}
}

// Safe migrations pass; a block_promotion failure lets the stage pass as
// promotion_blocked; a step over its timeout is stopped and fails.
func TestRunStatuses(t *testing.T) {
	r, _ := runner(t, "SET lock_timeout = '1s';\nALTER TABLE users ADD COLUMN bio text;\n")
	rep, err := r.Run(context.Background(), "main_branch")
	if err != nil || rep.Status != StatusPromotionBlocked || rep.Steps[0].Status != Warned {
		t.Fatalf("main_branch: %+v %v", rep, err)
	}
	r.Project.Pipeline.PullRequest = []string{"migrations"}
	if rep, err := r.Run(context.Background(), "pull_request"); err != nil || rep.Status != StatusPassed {
		t.Errorf("safe migrations: %+v %v", rep, err)
	}
	r.Project.Pipeline.Steps["lint"].Run, r.Project.Pipeline.Steps["lint"].Timeout = "sleep 30", spec.Duration(300*time.Millisecond)
	r.Project.Pipeline.PullRequest = []string{"lint"}
	rep, err = r.Run(context.Background(), "pull_request")
	if err != nil || rep.Status != StatusBlocked || !strings.Contains(rep.Steps[0].Summary, "timed out after 300ms") {
		t.Errorf("timeout: %+v %v", rep.Steps, err)
	}
}

// What cannot run is refused before anything runs, saying why.
func TestPlanRefuses(t *testing.T) {
	r, _ := runner(t, "")
	for stage, want := range map[string]string{
		"deploy":  "the deploy stage is what `belay release` does",
		"nightly": `unknown stage "nightly": belay ci runs pull_request or main_branch`,
	} {
		if _, err := r.Plan(stage); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", stage, err, want)
		}
	}
	r.Project.Pipeline.Steps["lint"] = &spec.Step{Gate: spec.GateDependencyAudit, Impact: spec.ImpactBlockCritical}
	if _, err := r.Plan("pull_request"); err == nil || !strings.Contains(err.Error(), "step lint uses gate dependency_audit, which belay ci cannot run (it runs migration_check)") {
		t.Errorf("unknown gate: %v", err)
	}
}

// The secrets gate blocks on a planted token, shown redacted; a warn
// impact only warns.
func TestSecretsGate(t *testing.T) {
	r, live := runner(t, "SET lock_timeout = '1s';\n")
	token := secretstest.GitHubToken(7)
	os.WriteFile(filepath.Join(r.Dir, "config.go"), []byte("package main\n\nconst token = \""+token+"\"\n"), 0o644)
	r.Gates[spec.GateSecrets] = SecretsGate()
	r.Project.Pipeline.Steps["leaks"] = &spec.Step{Gate: spec.GateSecrets, Impact: spec.ImpactBlock}
	r.Project.Pipeline.PullRequest = []string{"leaks"}
	rep, err := r.Run(context.Background(), "pull_request")
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Steps[0]
	if rep.Status != StatusBlocked || len(s.Findings) != 1 || s.Findings[0].File != "config.go" || s.Findings[0].Line != 3 {
		t.Fatalf("%s: %+v", rep.Status, s)
	}
	b, _ := json.Marshal(rep)
	if strings.Contains(string(b), token) || strings.Contains(live.String(), token) || strings.Contains(s.Output, token) {
		t.Error("the secret is in the report or the output")
	}
	r.Project.Pipeline.Steps["leaks"].Impact = spec.ImpactWarn
	if rep, _ := r.Run(context.Background(), "pull_request"); rep.Status != StatusPassed || rep.Steps[0].Status != Warned {
		t.Errorf("warn: %s %s", rep.Status, rep.Steps[0].Status)
	}
}

// The vulnerability gates judge the step's reports by the policy in the
// project (default: critical, high with a fix, called); container_scan
// refuses a report that is not an image scan, and needs one at all.
func TestVulnGates(t *testing.T) {
	r, _ := runner(t, "SET lock_timeout = '1s';\n")
	for _, f := range []string{"trivy-image.json", "osv-scanner.json"} {
		b, err := os.ReadFile(filepath.Join("..", "gate", "vuln", "testdata", "reports", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(r.Dir, f), b, 0o644)
	}
	r.Gates[spec.GateContainerScan] = VulnGate(false, []vuln.Tool{vuln.Trivy, vuln.Grype})
	r.Project.Pipeline.Steps["image"] = &spec.Step{Gate: spec.GateContainerScan, Impact: spec.ImpactBlockCritical, Report: []string{"trivy-image.json"}}
	r.Project.Pipeline.PullRequest = []string{"image"}
	rep, err := r.Run(context.Background(), "pull_request")
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Steps[0]
	errs := 0
	for _, f := range s.Findings {
		if f.Level == "error" {
			errs++
		}
	}
	if rep.Status != StatusBlocked || len(s.Findings) != 6 || errs != 3 || s.Summary != "3 block, 3 warn, 0 waived" {
		t.Errorf("image scan: %s, %d findings, %d errors, %q", rep.Status, len(s.Findings), errs, s.Summary)
	}
	// Waived in the project's policy: it no longer blocks.
	var ids []string
	for _, f := range s.Findings {
		if f.Level == "error" {
			ids = append(ids, "  - {id: "+f.Rule+", reason: accepted for the test, expires: 2099-01-01}")
		}
	}
	os.WriteFile(filepath.Join(r.Dir, "belay-vulns.yaml"), []byte("waivers:\n"+strings.Join(ids, "\n")+"\n"), 0o644)
	if rep, err := r.Run(context.Background(), "pull_request"); err != nil || rep.Status != StatusPassed || rep.Steps[0].Summary != "0 block, 3 warn, 3 waived" {
		t.Errorf("waived: %s %q %v", rep.Status, rep.Steps[0].Summary, err)
	}
	r.Project.Pipeline.Steps["image"].Report = []string{"osv-scanner.json"}
	if rep, _ := r.Run(context.Background(), "pull_request"); rep.Steps[0].ExitCode != 2 || !strings.Contains(rep.Steps[0].Summary, "osv-scanner.json is osv-scanner's report") {
		t.Errorf("a dependency report to container_scan: %+v", rep.Steps[0])
	}
	r.Project.Pipeline.Steps["image"].Report = nil
	if _, err := r.Plan("pull_request"); err == nil || !strings.Contains(err.Error(), "gate container_scan judges a scanner's report of the built artifact: add report:") {
		t.Errorf("container_scan without a report: %v", err)
	}
}
