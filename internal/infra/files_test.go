package infra_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/infra"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/testenv"
	"github.com/jackc/pgx/v5"
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

// TestBackupRestoreThroughTheEngine: after apply, a backup of a service
// dumps its database by the applied policy (audited, an event); rows
// changed afterwards are back in the database the restore makes; the live
// one is untouched; an unknown backup is a clear error; the schedule takes
// a dump only when one is due.
func TestBackupRestoreThroughTheEngine(t *testing.T) {
	e, st := engine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("b%d", time.Now().UnixNano())
	monDir, bkDir := t.TempDir(), t.TempDir()
	_ = os.Mkdir(filepath.Join(monDir, "staging"), 0o755)
	p := filesProject(t, svc, monDir, bkDir)
	pl := planApprove(t, e, p, "staging")
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanup(t, svc, "staging"); cleanup(t, svc+"w", "staging") })
	db := svc + "_staging"
	c, err := pgx.Connect(ctx, testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	cfg, _ := pgx.ParseConfig(testenv.Postgres(t))
	cfg.Database = db
	live, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close(ctx)
	if _, err := live.Exec(ctx, "CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 100)"); err != nil {
		t.Fatal(err)
	}
	taken, err := e.Backup(ctx, p, "staging", svc, "carol", "before the migration")
	if err != nil {
		t.Fatal(err)
	}
	if len(taken.Backups) != 1 || taken.Backups[0].Database != db {
		t.Fatalf("backup = %+v", taken)
	}
	if _, err := live.Exec(ctx, "DELETE FROM items WHERE id > 10"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Restore(ctx, p, "staging", infra.RestoreOptions{Service: svc, ID: "nope", Actor: "carol"}); err == nil ||
		!strings.Contains(err.Error(), `has no backup "nope"; the newest is `+taken.Backups[0].ID) {
		t.Fatalf("unknown backup: %v", err)
	}
	if _, err := e.Restore(ctx, p, "staging", infra.RestoreOptions{Service: svc, Replace: true, Actor: "carol"}); err == nil || !strings.Contains(err.Error(), "--replace needs a --reason") {
		t.Fatalf("replace without reason: %v", err)
	}
	// a name that would need quoting is refused before anything is made
	if _, err := e.Restore(ctx, p, "staging", infra.RestoreOptions{Service: svc, Into: `a\' host=attacker.example`, Actor: "carol"}); !errors.Is(err, infra.ErrInvalid) ||
		!strings.Contains(err.Error(), "^[a-z_][a-z0-9_]{0,62}$") {
		t.Fatalf("restore into a quoted name: %v", err)
	}
	r, err := e.Restore(ctx, p, "staging", infra.RestoreOptions{Service: svc, Actor: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	count := func(db string) int {
		cfg.Database = db
		cc, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close(ctx)
		var n int
		if err := cc.QueryRow(ctx, "SELECT count(*) FROM items").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	t.Cleanup(func() { _, _ = c.Exec(context.Background(), `DROP DATABASE IF EXISTS "`+r.Database+`" WITH (FORCE)`) })
	if !strings.HasPrefix(r.Database, db+"_restore_") || count(r.Database) != 100 || count(db) != 10 {
		t.Fatalf("restored into %s: %d rows; live %d rows; want 100 and 10", r.Database, count(r.Database), count(db))
	}
	// in place of the live database (its settings applied again: no drift),
	// an hour later (restore names are to the second)
	e.Now = func() time.Time { return time.Now().Add(time.Hour) }
	r2, err := e.Restore(ctx, p, "staging", infra.RestoreOptions{Service: svc, Replace: true, Reason: "bad migration", Actor: "dave"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = c.Exec(context.Background(), `DROP DATABASE IF EXISTS "`+r2.Replaced+`" WITH (FORCE)`) })
	if r2.Database != db || count(db) != 100 || count(r2.Replaced) != 10 {
		t.Fatalf("replace: %+v; %s has %d rows, %s %d; want 100 and 10", r2, db, count(db), r2.Replaced, count(r2.Replaced))
	}
	if rep, err := e.Drift(ctx, p, "staging"); err != nil || len(rep.Drifts) != 0 {
		t.Fatalf("drift after replace: %+v, %v", rep.Drifts, err)
	}
	var publicConnect bool // a new database lets PUBLIC connect; belay's revokes it
	if err := c.QueryRow(ctx, `SELECT has_database_privilege('public', $1, 'CONNECT')`, db).Scan(&publicConnect); err != nil || publicConnect {
		t.Fatalf("after replace, PUBLIC may connect to %s (%v): the database's settings were not applied again", db, err)
	}
	// the schedule: both services were backed up? api just now (not due), the worker never (due)
	due, err := e.DueBackups(ctx, p, "staging", "server")
	if err != nil {
		t.Fatal(err)
	}
	if len(due.Backups) != 1 || due.Backups[0].Service != svc+"w" {
		t.Fatalf("due backups = %+v, want the worker's only", due.Backups)
	}
	list, err := e.ListBackups(p, "staging", "")
	if err != nil || len(list.Backups) != 2 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	entries, _ := st.AuditSince(ctx, 0, 1000)
	actions := map[string]int{}
	for _, a := range entries {
		actions[a.Action]++
		if a.Action == "infra.backup" && a.Actor == "carol" && a.Reason != "before the migration" {
			t.Errorf("infra.backup by carol has reason %q, want the one given", a.Reason)
		}
	}
	if actions["infra.backup"] != 2 || actions["infra.restore"] != 2 {
		t.Errorf("audit = %v, want 2 infra.backup and 2 infra.restore", actions)
	}
	evs, _ := st.EventsSince(ctx, 0, 100)
	kinds := map[string]int{}
	for _, ev := range evs {
		var x struct{ Event, Actor, Reason string }
		_ = json.Unmarshal(ev.Data, &x)
		kinds[x.Event]++
		if x.Event == "backup_taken" && x.Actor == "carol" && x.Reason != "before the migration" {
			t.Errorf("backup_taken by carol has reason %q, want the one given", x.Reason)
		}
	}
	if kinds["backup_taken"] != 2 || kinds["backup_restored"] != 2 {
		t.Errorf("events = %v", kinds)
	}
}

// TestDisableFilesComponent: monitoring disabled (enabled: "false") with its
// dir kept plans the deletion of its files, drift and the release check
// still work; without its dir the plan says to keep dir, not an
// admin_url_secret monitoring does not have.
func TestDisableFilesComponent(t *testing.T) {
	e, _ := engine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("g%d", time.Now().UnixNano())
	monDir, bkDir := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(monDir, "staging"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanup(t, svc, "staging"); cleanup(t, svc+"w", "staging") })
	p := filesProject(t, svc, monDir, bkDir)
	if _, err := e.Apply(ctx, p, "staging", planApprove(t, e, p, "staging").ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	off := filesProject(t, svc, monDir, bkDir)
	off.Environments[0].Stack["monitoring"] = map[string]string{"enabled": "false", "dir": filepath.Join(monDir, "staging")}
	if _, err := e.Drift(ctx, off, "staging"); err != nil {
		t.Fatalf("drift with monitoring disabled: %v", err)
	}
	if _, err := e.Check(ctx, off, "staging"); err != nil {
		t.Fatalf("check with monitoring disabled: %v", err)
	}
	pl := planApprove(t, e, off, "staging")
	if pl.Summary[infra.ActDelete] != 3 {
		t.Fatalf("plan after disabling monitoring = %v, want its 3 files deleted", pl.Summary)
	}
	if _, err := e.Apply(ctx, off, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(filepath.Join(monDir, "staging", "*")); len(files) != 0 {
		t.Fatalf("monitoring files left: %v", files)
	}
	if ck, err := e.Check(ctx, off, "staging"); err != nil || !ck.Clean() {
		t.Fatalf("check after the deletes = %+v, %v; want clean", ck, err)
	}
	// applied again, then disabled without its dir: the plan says to keep dir
	if _, err := e.Apply(ctx, p, "staging", planApprove(t, e, p, "staging").ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	off.Environments[0].Stack["monitoring"] = map[string]string{"enabled": "false"}
	if _, err := e.Plan(ctx, off, "staging", "alice", nil); !errors.Is(err, infra.ErrInvalid) || !strings.Contains(err.Error(), "keep its dir") {
		t.Fatalf("disabled without its dir: %v", err)
	}
}
