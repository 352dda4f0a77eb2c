package infra_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/infra"
	"github.com/belay-dev/belay/internal/infra/tofu"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/sqlite"
	"github.com/belay-dev/belay/internal/testenv"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
)

func project(t *testing.T, svc, stagingExtra string) *spec.Project {
	t.Helper()
	y := fmt.Sprintf(`service_stack:
  app_service: enabled
  database: managed_postgres
  cache: redis
services:
  %s:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger:
      - error_rate > 1%% for 5m
    rollback_action: deploy previous_stable
environments:
  - name: staging
    stack:
      database: {admin_url_secret: PG_ADMIN, connection_limit: "10", app_connection_limit: "5"%s}
      cache: {admin_url_secret: REDIS_ADMIN, password_secret: CACHE_PASSWORD}
  - name: production
    stack:
      database: {admin_url_secret: PG_ADMIN, connection_limit: "100", app_connection_limit: "40", extensions: "pg_trgm"}
      cache: {admin_url_secret: REDIS_ADMIN, password_secret: CACHE_PASSWORD}
`, svc, stagingExtra)
	p, err := spec.ParseProject("belay.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func engine(t *testing.T) (*infra.Engine, store.Store) {
	return engineAt(t, filepath.Join(t.TempDir(), "state.db"))
}

func engineAt(t *testing.T, path string) (*infra.Engine, store.Store) {
	pg, rd := testenv.Postgres(t), testenv.Redis(t)
	st, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	secrets := map[string]string{"PG_ADMIN": pg, "REDIS_ADMIN": rd, "CACHE_PASSWORD": "correct horse battery"}
	return &infra.Engine{Store: st, Secrets: func(env string, names []string) (map[string]string, error) {
		out := map[string]string{}
		for _, n := range names {
			v, ok := secrets[n]
			if !ok {
				return nil, fmt.Errorf("secret %s is not set in %s", n, env)
			}
			out[n] = v
		}
		return out, nil
	}}, st
}

func planApprove(t *testing.T, e *infra.Engine, p *spec.Project, env string) infra.Plan {
	t.Helper()
	pl, err := e.Plan(t.Context(), p, env, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Approve(t.Context(), pl.ID, "bob", "reviewed", nil); err != nil {
		t.Fatal(err)
	}
	return pl
}

// TestPlanApplyDrift: staging and production from one project; apply
// creates everything, a second plan is all no-ops; a role's connection
// limit and a Redis user's keys changed by hand are drift (once), a plan
// updates exactly those fields and apply restores them.
func TestPlanApplyDrift(t *testing.T) {
	e, st := engine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("e%d", time.Now().UnixNano())
	p := project(t, svc, "")
	for _, env := range []string{"staging", "production"} {
		pl := planApprove(t, e, p, env)
		if pl.Summary[infra.ActCreate] != 4 || len(pl.Changes) != 4 {
			t.Fatalf("%s plan = %+v, want 4 creates", env, pl.Summary)
		}
		if _, err := e.Apply(ctx, p, env, pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
			t.Fatalf("apply %s: %v", env, err)
		}
		if pl2, err := e.Plan(ctx, p, env, "alice", nil); err != nil || pl2.Summary[infra.ActNoop] != 4 {
			t.Fatalf("%s plan after apply = %+v, %v; want 4 no-ops", env, pl2.Summary, err)
		}
		t.Cleanup(func() { cleanup(t, svc, env) })
	}
	// changed by hand
	c, err := pgx.Connect(ctx, testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, fmt.Sprintf(`ALTER ROLE %q CONNECTION LIMIT 99`, svc+"_production_app")); err != nil {
		t.Fatal(err)
	}
	opt, _ := goredis.ParseURL(testenv.Redis(t))
	rc := goredis.NewClient(opt)
	defer rc.Close()
	if err := rc.Do(ctx, "ACL", "SETUSER", svc+":production", "~*").Err(); err != nil {
		t.Fatal(err)
	}
	rep, err := e.Drift(ctx, p, "production")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]infra.Drift{}
	for _, d := range rep.Drifts {
		got[d.Name+" "+d.Field] = d
	}
	if d := got[svc+"_production_app connection_limit"]; len(rep.Drifts) != 2 || d.Expected != "40" || d.Found != "99" || !d.New {
		t.Fatalf("drift = %+v, want the role's connection_limit 40→99 and the user's keys", rep.Drifts)
	}
	if d := got[svc+":production keys"]; d.Expected != "~"+svc+":production:*" || !strings.Contains(d.Found, "~*") {
		t.Fatalf("redis drift = %+v", d)
	}
	// reading drift writes nothing: it stays new until recorded
	if rep2, _ := e.Drift(ctx, p, "production"); len(rep2.Drifts) != 2 || !rep2.Drifts[0].New || !rep2.Drifts[1].New {
		t.Fatalf("drift read again before recording = %+v, want it new still", rep2.Drifts)
	}
	// an apply holds the environment: recording waits for it rather than write rows back under it
	if _, held, _ := st.AcquireLease(ctx, infra.LockName("production"), "an apply", time.Hour, time.Now()); !held {
		t.Fatal("lease")
	}
	if _, err := e.RecordDrift(ctx, rep); !errors.Is(err, infra.ErrLocked) {
		t.Fatalf("recording under an apply's lock: %v, want ErrLocked", err)
	}
	if err := st.ReleaseLease(ctx, infra.LockName("production"), "an apply"); err != nil {
		t.Fatal(err)
	}
	if ch, err := e.RecordDrift(ctx, rep); err != nil || len(ch) != 2 || ch[0].Resolved {
		t.Fatalf("record = %+v, %v; want 2 resources with new drift", ch, err)
	}
	if rep, _ = e.Drift(ctx, p, "production"); len(rep.Drifts) != 2 || rep.Drifts[0].New || rep.Drifts[1].New {
		t.Fatalf("second drift = %+v, want the same drift, not new", rep.Drifts)
	}
	if ch, err := e.RecordDrift(ctx, rep); err != nil || len(ch) != 0 {
		t.Fatalf("recording unchanged drift = %+v, %v; want nothing changed", ch, err)
	}
	if rep, _ = e.Drift(ctx, p, "staging"); len(rep.Drifts) != 0 || rep.Checked != 4 {
		t.Fatalf("staging drift = %+v", rep)
	}
	pl := planApprove(t, e, p, "production")
	if pl.Summary[infra.ActUpdate] != 2 {
		t.Fatalf("restoring plan = %+v", pl.Changes)
	}
	if _, err := e.Apply(ctx, p, "production", pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	if rep, _ = e.Drift(ctx, p, "production"); len(rep.Drifts) != 0 {
		t.Fatalf("drift after apply = %+v", rep.Drifts)
	}
	if ch, err := e.RecordDrift(ctx, rep); err != nil || len(ch) != 2 || !ch[0].Resolved || !ch[1].Resolved {
		t.Fatalf("record after apply = %+v, %v; want both resolved", ch, err)
	}
	var limit int
	if err := c.QueryRow(ctx, `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, svc+"_production_app").Scan(&limit); err != nil || limit != 40 {
		t.Fatalf("connection limit after apply = %d, %v", limit, err)
	}
	entries, _ := st.AuditSince(ctx, 0, 1000)
	actions := map[string]int{}
	for _, a := range entries {
		actions[a.Action]++
	}
	if actions["infra.plan"] != 5 || actions["infra.plan.approve"] != 3 || actions["infra.apply"] != 3 {
		t.Fatalf("audit actions = %v", actions)
	}
}

func cleanup(t *testing.T, svc, env string) {
	ctx := t.Context()
	if c, err := pgx.Connect(ctx, testenv.Postgres(t)); err == nil {
		_, _ = c.Exec(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, svc+"_"+env))
		_, _ = c.Exec(ctx, fmt.Sprintf(`DROP ROLE IF EXISTS %q`, svc+"_"+env+"_app"))
		_, _ = c.Exec(ctx, fmt.Sprintf(`DROP ROLE IF EXISTS %q`, svc+"_"+env+"_owner"))
		_ = c.Close(ctx)
	}
	opt, _ := goredis.ParseURL(testenv.Redis(t))
	rc := goredis.NewClient(opt)
	_ = rc.Do(ctx, "ACL", "DELUSER", svc+":"+env).Err()
	_ = rc.Close()
}

// TestApplyRefusals: an unapproved plan, a stale plan, a plan deleting a
// protected database without the override, and a locked environment are
// refused with nothing applied; the override deletes it, audited.
func TestApplyRefusals(t *testing.T) {
	e, st := engine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("r%d", time.Now().UnixNano())
	p := project(t, svc, "")
	t.Cleanup(func() { cleanup(t, svc, "staging") })
	pl, err := e.Plan(ctx, p, "staging", "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); !errors.Is(err, infra.ErrNotApproved) {
		t.Fatalf("unapproved: %v", err)
	}
	if _, err := e.Approve(ctx, pl.ID, "bob", "", nil); err != nil {
		t.Fatal(err)
	}
	// belay.yaml changed after the plan: stale
	p2 := project(t, svc, `, extensions: "citext"`)
	if _, err := e.Apply(ctx, p2, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); !errors.Is(err, infra.ErrStale) {
		t.Fatalf("stale: %v", err)
	}
	if rows, _ := st.InfraResources(ctx, "staging"); len(rows) != 0 {
		t.Fatalf("a stale apply recorded %d resources", len(rows))
	}
	// locked
	if _, held, _ := st.AcquireLease(ctx, infra.LockName("staging"), "someone else", time.Hour, time.Now()); !held {
		t.Fatal("lease")
	}
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); !errors.Is(err, infra.ErrLocked) || !strings.Contains(err.Error(), "someone else") {
		t.Fatalf("locked: %v", err)
	}
	if was, err := e.Unlock(ctx, "staging", "dave", "dead apply"); err != nil || was != "someone else" {
		t.Fatalf("unlock = %q, %v", was, err)
	}
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	// the service is renamed away: its database would be deleted
	gone := project(t, svc+"x", "")
	t.Cleanup(func() { cleanup(t, svc+"x", "staging") })
	pl = planApprove(t, e, gone, "staging")
	var del []string
	for _, c := range pl.Changes {
		if c.Action == infra.ActDelete {
			del = append(del, c.Name)
			if c.Kind == "postgres_database" && !c.Protected {
				t.Fatalf("database delete not flagged protected: %+v", c)
			}
		}
	}
	if len(del) != 4 || del[0] != svc+"_staging" {
		t.Fatalf("deletes = %v, want the database first", del)
	}
	if _, err := e.Apply(ctx, gone, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); !errors.Is(err, infra.ErrProtected) {
		t.Fatalf("protected delete: %v", err)
	}
	if rows, _ := st.InfraResources(ctx, "staging"); len(rows) != 4 {
		t.Fatalf("a refused apply changed the records: %d rows", len(rows))
	}
	if _, err := e.Apply(ctx, gone, "staging", pl.ID, infra.ApplyOptions{Actor: "carol", DeleteProtected: true}); !errors.Is(err, infra.ErrInvalid) {
		t.Fatalf("override without reason: %v", err)
	}
	if _, err := e.Apply(ctx, gone, "staging", pl.ID, infra.ApplyOptions{Actor: "carol", DeleteProtected: true, Reason: "service retired"}); err != nil {
		t.Fatal(err)
	}
	entries, _ := st.AuditSince(ctx, 0, 1000)
	var unlock, override bool
	for _, a := range entries {
		unlock = unlock || a.Action == "infra.unlock" && a.Actor == "dave" && strings.Contains(string(a.Detail), "someone else")
		override = override || a.Action == "infra.delete_protected" && a.Reason == "service retired" && a.Subject == "resource/staging/postgres_database/"+svc+"_staging"
	}
	if !unlock || !override {
		t.Fatalf("audit lacks the unlock (%v) or the override (%v)", unlock, override)
	}
}

// TestCrashBetweenCreateAndRecord: an apply that dies right after a Create
// (the create-pending marker stored, the record not) leaves a plan that
// creates nothing twice; applying it records everything.
func TestCrashBetweenCreateAndRecord(t *testing.T) {
	e, st := engine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("c%d", time.Now().UnixNano())
	p := project(t, svc, "")
	t.Cleanup(func() { cleanup(t, svc, "staging") })
	pl := planApprove(t, e, p, "staging")
	func() {
		defer func() { _ = recover() }()
		_, _ = e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol", AfterCreate: func(c infra.Change) {
			if c.Kind == "postgres_database" {
				panic("crash")
			}
		}})
	}()
	rows, _ := st.InfraResources(ctx, "staging")
	pending := 0
	for _, r := range rows {
		if r.CreatePending {
			pending++
		}
	}
	if len(rows) != 3 || pending != 1 {
		t.Fatalf("after the crash: %d rows, %d pending; want 3 and 1", len(rows), pending)
	}
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); !errors.Is(err, infra.ErrStale) {
		t.Fatalf("the old plan after the crash: %v, want stale", err)
	}
	pl = planApprove(t, e, p, "staging")
	if pl.Summary[infra.ActNoop] != 3 || pl.Summary[infra.ActCreate] != 1 {
		t.Fatalf("plan after the crash = %v, want the pending database a no-op and the redis user a create", pl.Summary)
	}
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	rows, _ = st.InfraResources(ctx, "staging")
	for _, r := range rows {
		if r.CreatePending || len(r.Applied) == 0 {
			t.Fatalf("after the second apply: %+v", r)
		}
	}
	if len(rows) != 4 {
		t.Fatalf("rows = %d", len(rows))
	}
}

// TestStackErrors: parameters belay would not act on, unsupported kinds
// and missing servers are refused with their path.
func TestStackErrors(t *testing.T) {
	e, _ := engine(t)
	p := project(t, "api", `, size: large`)
	_, err := e.Plan(t.Context(), p, "staging", "alice", nil)
	if err == nil || !strings.Contains(err.Error(), "belay.yaml:16:") || !strings.Contains(err.Error(), "environments[0].stack.database.size: not a parameter of database managed_postgres") {
		t.Fatalf("unknown parameter: %v", err)
	}
	p = project(t, "api", "")
	p.ServiceStack.Queue = "rabbitmq"
	if _, err := e.Plan(t.Context(), p, "staging", "alice", nil); err == nil || !strings.Contains(err.Error(), `service_stack.queue: "rabbitmq" is not provisioned by belay yet`) ||
		!strings.Contains(err.Error(), "queue: managed_queue or nats") {
		t.Fatalf("unsupported kind: %v", err)
	}
}

// TestImportObserveOnly: resources that exist already, under management:
// observe, are imported (their current fields the baseline), never
// changed by apply, and a change by hand is drift.
func TestImportObserveOnly(t *testing.T) {
	e, _ := engine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("o%d", time.Now().UnixNano())
	t.Cleanup(func() { cleanup(t, svc, "staging") })
	// someone else made them (another belay, by hand)
	other, _ := engine(t)
	managed := project(t, svc, "")
	pl := planApprove(t, other, managed, "staging")
	if _, err := other.Apply(ctx, managed, "staging", pl.ID, infra.ApplyOptions{Actor: "x"}); err != nil {
		t.Fatal(err)
	}
	p := project(t, svc, `, management: observe`)
	p.Environments[0].Stack["database"]["app_connection_limit"] = "12" // not what exists: observe-only never changes it
	pl = planApprove(t, e, p, "staging")
	if pl.Summary[infra.ActImport] != 3 || pl.Summary[infra.ActAdopt] != 1 {
		t.Fatalf("import plan = %v, want 3 imports (database) and the Redis user adopted", pl.Summary)
	}
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var limit int
	if err := c.QueryRow(ctx, `SELECT rolconnlimit FROM pg_roles WHERE rolname = $1`, svc+"_staging_app").Scan(&limit); err != nil || limit != 5 {
		t.Fatalf("an observe-only role was changed: limit %d, %v", limit, err)
	}
	if pl = planApprove(t, e, p, "staging"); pl.Summary[infra.ActNoop] != 4 {
		t.Fatalf("second plan = %v, want 4 no-ops", pl.Summary)
	}
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, fmt.Sprintf(`ALTER ROLE %q CONNECTION LIMIT 6`, svc+"_staging_app")); err != nil {
		t.Fatal(err)
	}
	rep, err := e.Drift(ctx, p, "staging")
	if err != nil || len(rep.Drifts) != 1 || rep.Drifts[0].Expected != "5" || rep.Drifts[0].Found != "6" {
		t.Fatalf("drift of an imported role = %+v, %v; want connection_limit 5 → 6", rep.Drifts, err)
	}
}

// TestComponentDisabledInOneEnvironment: enabled: false leaves a component
// out of that environment's stack.
func TestComponentDisabledInOneEnvironment(t *testing.T) {
	p := project(t, "api", "")
	p.Environments[0].Stack["cache"]["enabled"] = "false"
	st, err := infra.StackOf(p, "staging", func(string, []string) (map[string]string, error) { return nil, errors.New("no secret needed") })
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Resources {
		if r.Component == "cache" {
			t.Fatalf("staging has the disabled cache: %+v", r)
		}
	}
	if len(st.Resources) != 3 {
		t.Fatalf("staging resources = %d, want 3", len(st.Resources))
	}
}

// TestManagementSwitch: a resource's management changed from observe to
// manage (and back) is recorded with its new policy once applied: a row
// left as observe would be skipped by deletes and never updated.
func TestManagementSwitch(t *testing.T) {
	e, st := engine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("m%d", time.Now().UnixNano())
	t.Cleanup(func() { cleanup(t, svc, "staging") })
	other, _ := engine(t)
	managed := project(t, svc, "")
	pl := planApprove(t, other, managed, "staging")
	if _, err := other.Apply(ctx, managed, "staging", pl.ID, infra.ApplyOptions{Actor: "x"}); err != nil {
		t.Fatal(err)
	}
	policies := func() map[string]string {
		rows, err := st.InfraResources(ctx, "staging")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range rows {
			out[r.Kind+"/"+r.Name] = r.Policy
		}
		return out
	}
	for i, step := range []struct{ extra, want, action string }{
		{`, management: observe`, store.PolicyObserve, infra.ActImport},
		{``, store.PolicyManage, infra.ActAdopt},
		{`, management: observe`, store.PolicyObserve, infra.ActImport},
	} {
		p := project(t, svc, step.extra)
		pl := planApprove(t, e, p, "staging")
		if pl.Summary[step.action] != 3 {
			t.Fatalf("step %d: plan = %v, want the 3 database resources to %s", i, pl.Summary, step.action)
		}
		if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := policies()["postgres_role/"+svc+"_staging_app"]; got != step.want {
			t.Fatalf("step %d: the app role is recorded as %q, want %q (plan %+v)", i, got, step.want, pl.Changes)
		}
	}
}

// TestDisableAppliedComponent: enabled: false on components whose
// resources were applied plans their deletion (the database protected:
// refused without the override), on the servers still named; without the
// server's secret the plan says what to keep.
func TestDisableAppliedComponent(t *testing.T) {
	e, _ := engine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("d%d", time.Now().UnixNano())
	t.Cleanup(func() { cleanup(t, svc, "staging") })
	p := project(t, svc, "")
	pl := planApprove(t, e, p, "staging")
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	off := project(t, svc, `, enabled: "false"`)
	off.Environments[0].Stack["cache"]["enabled"] = "false"
	pl = planApprove(t, e, off, "staging")
	if pl.Summary[infra.ActDelete] != 4 || len(pl.Changes) != 4 {
		t.Fatalf("plan after disabling = %+v, want 4 deletes", pl.Changes)
	}
	for _, c := range pl.Changes {
		if c.Kind == "postgres_database" && (!c.Protected || !c.Destructive) {
			t.Fatalf("the database's delete is not flagged protected: %+v", c)
		}
	}
	if _, err := e.Apply(ctx, off, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); !errors.Is(err, infra.ErrProtected) {
		t.Fatalf("deleting the disabled database without the override: %v, want ErrProtected", err)
	}
	if _, err := e.Apply(ctx, off, "staging", pl.ID, infra.ApplyOptions{Actor: "carol", DeleteProtected: true, Reason: "staging has no database now"}); err != nil {
		t.Fatal(err)
	}
	if pl, err := e.Plan(ctx, off, "staging", "alice", nil); err != nil || len(pl.Changes) != 0 {
		t.Fatalf("plan after the deletes = %+v, %v; want nothing", pl.Changes, err)
	}
	// applied again, then disabled without naming the server: the plan says what to keep
	pl = planApprove(t, e, p, "staging")
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	p2 := project(t, svc, "")
	p2.Environments[0].Stack["cache"] = map[string]string{"enabled": "false"}
	if _, err := e.Plan(ctx, p2, "staging", "alice", nil); !errors.Is(err, infra.ErrInvalid) || !strings.Contains(err.Error(), "keep its admin_url_secret") {
		t.Fatalf("disabled without its server: %v", err)
	}
}

// TestApproveUnderProtection: a plan's approval follows the environment's
// protection as a release's does: not by the one who made it unless
// allow_self_approval, only by listed approvers, and approved once
// `approvals` distinct approvers approved it.
func TestApproveUnderProtection(t *testing.T) {
	e, _ := engine(t)
	ctx := t.Context()
	p := project(t, fmt.Sprintf("a%d", time.Now().UnixNano()), "")
	pl, err := e.Plan(ctx, p, "staging", "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	prot := &spec.Protection{RequireApproval: true, Approvers: []string{"alice", "bob", "carol"}, Approvals: 2}
	if _, err := e.Approve(ctx, pl.ID, "alice", "", prot); !errors.Is(err, infra.ErrPolicy) || !strings.Contains(err.Error(), "alice made plan") {
		t.Fatalf("self-approval: %v, want refused", err)
	}
	if _, err := e.Approve(ctx, pl.ID, "mallory", "", prot); !errors.Is(err, infra.ErrPolicy) || !strings.Contains(err.Error(), "not one of staging's approvers") {
		t.Fatalf("unlisted approver: %v, want refused", err)
	}
	if sp, err := e.Approve(ctx, pl.ID, "bob", "", prot); err != nil || sp.State != store.PlanPending {
		t.Fatalf("first of two approvals = %+v, %v; want pending", sp, err)
	}
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); !errors.Is(err, infra.ErrNotApproved) {
		t.Fatalf("apply with one of two approvals: %v", err)
	}
	if sp, err := e.Approve(ctx, pl.ID, "carol", "", prot); err != nil || sp.State != store.PlanApproved || sp.ApprovedBy != "bob, carol" {
		t.Fatalf("second approval = %+v, %v; want approved by bob, carol", sp, err)
	}
	pl, _ = e.Plan(ctx, p, "staging", "alice", nil)
	if sp, err := e.Approve(ctx, pl.ID, "alice", "", &spec.Protection{AllowSelfApproval: true}); err != nil || sp.State != store.PlanApproved {
		t.Fatalf("self-approval allowed = %+v, %v", sp, err)
	}
}

// TestTofuPlanBinding: a plan made with a tofu plan stores it with its
// hash; apply refuses without it, and refuses when it changed since.
func TestTofuPlanBinding(t *testing.T) {
	e, _ := engine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("t%d", time.Now().UnixNano())
	t.Cleanup(func() { cleanup(t, svc, "staging") })
	p := project(t, svc, "")
	tf, err := tofu.Load("tofu/testdata/mixed.json")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := e.Plan(ctx, p, "staging", "alice", tf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Approve(ctx, pl.ID, "bob", "", nil); err != nil {
		t.Fatal(err)
	}
	stored, _, err := e.GetPlan(ctx, pl.ID)
	if err != nil || stored.Tofu == nil || stored.Tofu.Hash != tf.Hash || !stored.Tofu.Destructive {
		t.Fatalf("stored plan's tofu = %+v, %v", stored.Tofu, err)
	}
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); !errors.Is(err, infra.ErrStale) || !strings.Contains(err.Error(), "give it again with --tofu") {
		t.Fatalf("apply without the tofu plan: %v", err)
	}
	other, err := tofu.Load("tofu/testdata/nochange.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol", Tofu: other}); !errors.Is(err, infra.ErrStale) || !strings.Contains(err.Error(), "changed since plan") {
		t.Fatalf("apply with a changed tofu plan: %v", err)
	}
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol", Tofu: tf}); err != nil {
		t.Fatal(err)
	}
}

// TestTofuGivenToPlanWithout: --tofu on a plan made without a tofu plan is
// refused, not ignored: the approval never covered it.
func TestTofuGivenToPlanWithout(t *testing.T) {
	e, _ := engine(t)
	svc := fmt.Sprintf("u%d", time.Now().UnixNano())
	t.Cleanup(func() { cleanup(t, svc, "staging") })
	p := project(t, svc, "")
	tf, err := tofu.Load("tofu/testdata/mixed.json")
	if err != nil {
		t.Fatal(err)
	}
	pl := planApprove(t, e, p, "staging")
	if _, err := e.Apply(t.Context(), p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol", Tofu: tf}); !errors.Is(err, infra.ErrStale) || !strings.Contains(err.Error(), "made without a tofu plan") {
		t.Fatalf("apply --tofu of a plan made without one: %v, want refused", err)
	}
}

// TestFailedApplyAudited: a server refusing mid-apply (an extension
// PostgreSQL does not have) stops the apply with what was applied so far,
// audited as infra.apply.failed; the plan stays unapplied.
func TestFailedApplyAudited(t *testing.T) {
	e, st := engine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("f%d", time.Now().UnixNano())
	t.Cleanup(func() { cleanup(t, svc, "staging") })
	p := project(t, svc, `, extensions: "no_such_extension_here"`)
	pl := planApprove(t, e, p, "staging")
	_, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol", Reason: "first apply"})
	if err == nil || !strings.Contains(err.Error(), "applied so far: 2 of 4 changes") {
		t.Fatalf("apply = %v, want a failure after the two roles", err)
	}
	entries, _ := st.AuditSince(ctx, 0, 1000)
	var failed *store.AuditEntry
	for i, a := range entries {
		if a.Action == "infra.apply.failed" {
			failed = &entries[i]
		}
		if a.Action == "infra.apply" {
			t.Fatalf("a failed apply audited as applied: %+v", a)
		}
	}
	if failed == nil || failed.Actor != "carol" || failed.Subject != fmt.Sprintf("plan/%d", pl.ID) || failed.Reason != "first apply" ||
		!strings.Contains(string(failed.Detail), svc+"_staging_app") || !strings.Contains(string(failed.Detail), "no_such_extension_here") {
		t.Fatalf("infra.apply.failed = %+v", failed)
	}
	if _, sp, _ := e.GetPlan(ctx, pl.ID); sp.State != store.PlanApproved {
		t.Fatalf("the plan after a failed apply is %s, want still approved", sp.State)
	}
}

// TestAckEndsWithItsDrift: an acknowledgement holds only while its drift
// lasts. Acknowledged with no drift recorded before, then fixed by an apply
// (or by hand and recorded clean), the same drift made again is
// unacknowledged.
func TestAckEndsWithItsDrift(t *testing.T) {
	e, _ := engine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("k%d", time.Now().UnixNano())
	t.Cleanup(func() { cleanup(t, svc, "staging") })
	p := project(t, svc, "")
	if _, err := e.Apply(ctx, p, "staging", planApprove(t, e, p, "staging").ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	role := svc + "_staging_app"
	setLimit := func(n int) {
		t.Helper()
		if _, err := c.Exec(ctx, fmt.Sprintf(`ALTER ROLE %q CONNECTION LIMIT %d`, role, n)); err != nil {
			t.Fatal(err)
		}
	}
	ack := func() {
		t.Helper()
		if _, err := e.AckDrift(ctx, p, "staging", "postgres_role/"+role, "bob", "incident"); err != nil {
			t.Fatal(err)
		}
		if ck, err := e.Check(ctx, p, "staging"); err != nil || len(ck.Drift) != 0 || len(ck.Acknowledged) != 1 {
			t.Fatalf("check after ack = %+v, %v; want the drift acknowledged", ck, err)
		}
	}
	wantUnacked := func(after string) {
		t.Helper()
		ck, err := e.Check(ctx, p, "staging")
		if err != nil || len(ck.Drift) != 1 || len(ck.Acknowledged) != 0 {
			t.Fatalf("check with the drift made again %s = %+v, %v; want it unacknowledged", after, ck, err)
		}
	}
	// fixed by an apply
	setLimit(99)
	ack()
	if _, err := e.Apply(ctx, p, "staging", planApprove(t, e, p, "staging").ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.Drift(ctx, p, "staging")
	if err != nil || len(rep.Drifts) != 0 {
		t.Fatalf("drift after apply = %+v, %v", rep, err)
	}
	setLimit(99)
	wantUnacked("after an apply")
	// fixed by hand, recorded clean
	ack()
	setLimit(5)
	if rep, err = e.Drift(ctx, p, "staging"); err != nil || len(rep.Drifts) != 0 {
		t.Fatalf("drift fixed by hand = %+v, %v", rep, err)
	}
	if _, err := e.RecordDrift(ctx, rep); err != nil {
		t.Fatal(err)
	}
	setLimit(99)
	wantUnacked("after a clean record")
}

// TestAckDriftUnderProtection: only one of the environment's listed
// approvers may acknowledge its drift, as only they may approve a plan.
func TestAckDriftUnderProtection(t *testing.T) {
	e, _ := engine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("q%d", time.Now().UnixNano())
	t.Cleanup(func() { cleanup(t, svc, "staging") })
	p := project(t, svc, "")
	if _, err := e.Apply(ctx, p, "staging", planApprove(t, e, p, "staging").ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, fmt.Sprintf(`ALTER ROLE %q CONNECTION LIMIT 99`, svc+"_staging_app")); err != nil {
		t.Fatal(err)
	}
	p.Environment("staging").Protection = &spec.Protection{RequireApproval: true, Approvers: []string{"bob"}, Approvals: 2}
	res := "postgres_role/" + svc + "_staging_app"
	if _, err := e.AckDrift(ctx, p, "staging", res, "mallory", "mine"); !errors.Is(err, infra.ErrPolicy) || !strings.Contains(err.Error(), "not one of staging's approvers") {
		t.Fatalf("ack by an unlisted approver: %v, want refused", err)
	}
	if ck, _ := e.Check(ctx, p, "staging"); len(ck.Acknowledged) != 0 {
		t.Fatalf("refused ack acknowledged %+v", ck.Acknowledged)
	}
	if _, err := e.AckDrift(ctx, p, "staging", res, "bob", "incident"); err != nil {
		t.Fatalf("ack by a listed approver (one of two approvals suffices): %v", err)
	}
}

// TestSecretDerivedFieldsMasked: the SHA-256 of the cache password never
// leaves the engine: drift, plans (their diffs and specs, as made, read
// back and applied) and the release check show it as "(changed)".
func TestSecretDerivedFieldsMasked(t *testing.T) {
	e, _ := engine(t)
	ctx := t.Context()
	svc := fmt.Sprintf("m%d", time.Now().UnixNano())
	t.Cleanup(func() { cleanup(t, svc, "staging") })
	p := project(t, svc, "")
	secretHash := fmt.Sprintf("%x", sha256.Sum256([]byte("correct horse battery")))
	leaks := func(what string, v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		if strings.Contains(string(b), secretHash) || strings.Contains(string(b), fmt.Sprintf("%x", sha256.Sum256([]byte("by hand")))) {
			t.Fatalf("%s shows a password's SHA-256: %s", what, b)
		}
	}
	pl := planApprove(t, e, p, "staging")
	leaks("plan", pl)
	got, _, err := e.GetPlan(ctx, pl.ID)
	if err != nil {
		t.Fatal(err)
	}
	leaks("plan read back", got)
	out, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	leaks("apply", out)
	opt, _ := goredis.ParseURL(testenv.Redis(t))
	rc := goredis.NewClient(opt)
	defer rc.Close()
	if err := rc.Do(ctx, "ACL", "SETUSER", svc+":staging", ">by hand").Err(); err != nil {
		t.Fatal(err)
	}
	rep, err := e.Drift(ctx, p, "staging")
	if err != nil || len(rep.Drifts) != 1 || rep.Drifts[0].Field != "password_sha256" || rep.Drifts[0].Expected != "(changed)" || rep.Drifts[0].Found != "(changed)" {
		t.Fatalf("drift = %+v, %v; want password_sha256 (changed)", rep.Drifts, err)
	}
	if ch, err := e.RecordDrift(ctx, rep); err != nil || len(ch) != 1 {
		t.Fatalf("record of the masked drift = %+v, %v", ch, err)
	}
	ck, err := e.Check(ctx, p, "staging")
	if err != nil || len(ck.Drift) != 1 || len(ck.Pending) != 1 {
		t.Fatalf("check = %+v, %v", ck, err)
	}
	leaks("check", ck)
	pl2, err := e.Plan(ctx, p, "staging", "alice", nil)
	if err != nil || pl2.Summary[infra.ActUpdate] != 1 {
		t.Fatalf("restoring plan = %+v, %v", pl2, err)
	}
	leaks("restoring plan", pl2)
}
