package infra_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/infra"
	"github.com/belay-dev/belay/internal/spec"
)

// filesProject: database, monitoring and backups, the files in dirs of
// their own per environment; api has an SLO, worker none.
func filesProject(t *testing.T, svc, monDir, bkDir string) *spec.Project {
	t.Helper()
	y := fmt.Sprintf(`service_stack:
  app_service: enabled
  database: managed_postgres
  monitoring: enabled
  backups: pg_dump
services:
  %[1]s:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger:
      - error_rate > 1%% for 5m
    rollback_action: deploy previous_stable
    slo: {objective: 99.9%%}
  %[1]sw:
    run: {command: bin/worker}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger:
      - error_rate > 1%% for 5m
    rollback_action: deploy previous_stable
environments:
  - name: staging
    stack:
      database: {admin_url_secret: PG_ADMIN}
      monitoring: {dir: %[2]s/staging, sd_url: "http://127.0.0.1:7070/v1/sd", scrape_interval: 30s}
      backups: {dir: %[3]s/staging, schedule: 24h, retention: "3"}
  - name: production
    stack:
      database: {admin_url_secret: PG_ADMIN}
      monitoring: {dir: %[2]s/production, sd_url: "http://127.0.0.1:7070/v1/sd", scrape_interval: 15s}
      backups: {dir: %[3]s/production, schedule: 6h, retention: "14,30d"}
`, svc, monDir, bkDir)
	p, err := spec.ParseProject("belay.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMonitoringAndBackupsPlanApplyDrift: the monitoring files and backup
// policies are planned and applied with the databases; a scrape interval
// and a backup schedule changed by hand in the files are drift naming the
// field, and apply restores them.
func TestMonitoringAndBackupsPlanApplyDrift(t *testing.T) {
	e, _ := engine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("f%d", time.Now().UnixNano())
	monDir, bkDir := t.TempDir(), t.TempDir()
	for _, env := range []string{"staging", "production"} {
		if err := os.Mkdir(filepath.Join(monDir, env), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := filesProject(t, svc, monDir, bkDir)
	for _, env := range []string{"staging", "production"} {
		pl := planApprove(t, e, p, env)
		kinds := map[string]int{}
		for _, c := range pl.Changes {
			if c.Action == infra.ActCreate {
				kinds[c.Kind]++
			}
		}
		// two services: 3 database resources, a scrape file and a policy each; one rules file (api's SLO)
		if kinds["postgres_role"] != 4 || kinds["postgres_database"] != 2 || kinds["prometheus_scrape"] != 2 || kinds["prometheus_rules"] != 1 || kinds["backup_policy"] != 2 {
			t.Fatalf("%s creates %v", env, kinds)
		}
		if _, err := e.Apply(ctx, p, env, pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
			t.Fatalf("apply %s: %v", env, err)
		}
		t.Cleanup(func() { cleanup(t, svc, env); cleanup(t, svc+"w", env) })
	}
	files, _ := filepath.Glob(filepath.Join(monDir, "staging", "*"))
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	want := []string{svc + "-staging.rules.yml", svc + "-staging.scrape.yml", svc + "w-staging.scrape.yml"}
	if !slices.Equal(names, want) {
		t.Fatalf("staging monitoring files %v, want %v", names, want)
	}
	edit := func(path, from, to string) {
		b, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(b), from) {
			t.Fatalf("%s: %v, or no %q in it:\n%s", path, err, from, b)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(b), from, to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit(filepath.Join(monDir, "production", svc+"-production.scrape.yml"), "scrape_interval: 15s", "scrape_interval: 5m")
	edit(filepath.Join(bkDir, "production", svc+"_production.policy.json"), `"6h"`, `"168h"`)
	rep, err := e.Drift(ctx, p, "production")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]infra.Drift{}
	for _, d := range rep.Drifts {
		got[d.Kind+" "+d.Field] = d
	}
	if d := got["prometheus_scrape interval"]; d.Expected != "15s" || d.Found != "5m" || d.Name != svc+"-production" {
		t.Errorf("scrape interval drift = %+v (all: %+v)", d, rep.Drifts)
	}
	if d := got["backup_policy schedule"]; d.Expected != "6h" || d.Found != "168h" {
		t.Errorf("backup schedule drift = %+v (all: %+v)", d, rep.Drifts)
	}
	if len(rep.Drifts) != 3 { // interval, the scrape file's sha256, schedule
		t.Errorf("drift = %+v, want 3 fields", rep.Drifts)
	}
	if rep, _ := e.Drift(ctx, p, "staging"); len(rep.Drifts) != 0 || rep.Checked != 11 {
		t.Errorf("staging drift = %+v, want none of 11 resources", rep)
	}
	pl := planApprove(t, e, p, "production")
	if pl.Summary[infra.ActUpdate] != 2 {
		t.Fatalf("restoring plan = %v", pl.Summary)
	}
	if _, err := e.Apply(ctx, p, "production", pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	if rep, _ := e.Drift(ctx, p, "production"); len(rep.Drifts) != 0 {
		t.Fatalf("drift after apply = %+v", rep.Drifts)
	}
}

// TestFilesStackErrors: the monitoring and backups parameters are checked
// with their path.
func TestFilesStackErrors(t *testing.T) {
	noSecrets := func(string, []string) (map[string]string, error) { return map[string]string{}, nil }
	for _, c := range []struct{ comp, key, value, want string }{
		{"monitoring", "targets", "a:1", "environments[0].stack.monitoring.targets: set sd_url or targets, not both"},
		{"monitoring", "scrape_interval", "often", `monitoring.scrape_interval: promfiles: x-staging: interval "often" is not a Prometheus duration`},
		{"backups", "schedule", "0 3 * * *", `environments[0].stack.backups.schedule: backup: schedule "0 3 * * *": write how often to dump`},
		{"backups", "retention", "forever", `environments[0].stack.backups.retention: backup: retention "forever"`},
		{"backups", "keep", "3", `environments[0].stack.backups.keep: not a parameter of backups pg_dump`},
	} {
		p := filesProject(t, "x", "/srv/mon", "/srv/bk")
		p.Environments[0].Stack[c.comp][c.key] = c.value
		_, err := infra.StackOf(p, "staging", noSecrets)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %q", c.comp, c.key, err, c.want)
		}
	}
	p := filesProject(t, "x", "relative", "/srv/bk")
	if _, err := infra.StackOf(p, "staging", noSecrets); err == nil || !strings.Contains(err.Error(), "monitoring.dir: \"relative/staging\": name the absolute directory") {
		t.Errorf("relative dir: %v", err)
	}
	p = filesProject(t, "x", "/srv/mon", "/srv/bk")
	p.ServiceStack.Database = ""
	delete(p.Environments[0].Stack, "database")
	if _, err := infra.StackOf(p, "staging", noSecrets); err == nil || !strings.Contains(err.Error(), "backups dump the database component's databases") {
		t.Errorf("backups without a database: %v", err)
	}
}
