package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/belay-dev/belay/internal/infra"
	"github.com/belay-dev/belay/internal/secret"
	"github.com/belay-dev/belay/internal/testenv"
)

// TestScheduledBackupsOneServerOfTwo: two servers on one store look for
// due backups; only the holder of the lease "backups" takes the dump, and
// a dump newer than the schedule is not taken again.
func TestScheduledBackupsOneServerOfTwo(t *testing.T) {
	pg := testenv.Postgres(t)
	ctx := t.Context()
	a, st := testServer(t)
	svc := fmt.Sprintf("sb%d", time.Now().UnixNano())
	bk := t.TempDir()
	y := fmt.Sprintf(`project: sched
service_stack: {app_service: enabled, database: postgres, backups: enabled}
services:
  %s:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger: ["error_rate > 1%% for 5m"]
    rollback_action: deploy previous_stable
environments:
  - name: staging
    stack:
      database: {admin_url_secret: PG_ADMIN}
      backups: {dir: %s, schedule: 24h, retention: "2"}
`, svc, bk)
	if err := os.WriteFile(a.d.ProjectFile, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.d.Secrets.Change("staging", func(s secret.Set) error { s["PG_ADMIN"] = pg; return nil }, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), pg); err == nil {
			_, _ = c.Exec(context.Background(), fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, svc+"_staging"))
			_, _ = c.Exec(context.Background(), fmt.Sprintf(`DROP ROLE IF EXISTS %q, %q`, svc+"_staging_app", svc+"_staging_owner"))
			_ = c.Close(context.Background())
		}
	})
	p, err := a.Project()
	if err != nil {
		t.Fatal(err)
	}
	e, err := a.infraEngine()
	if err != nil {
		t.Fatal(err)
	}
	pl, err := e.Plan(ctx, p, "staging", "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Approve(ctx, pl.ID, "bob", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	a.d.Holder = "host-a"
	b, err := New(a.d)
	if err != nil {
		t.Fatal(err)
	}
	b.d.Holder = "host-b"
	for _, s := range []*Server{a, b, a, b} {
		s.backupTick(ctx, time.Minute)
	}
	dumps, _ := filepath.Glob(filepath.Join(bk, "staging", svc, "*.dump"))
	entries, _ := st.AuditSince(ctx, 0, 1000)
	var by []string
	for _, en := range entries {
		if en.Action == "infra.backup" {
			by = append(by, en.Actor)
		}
	}
	if len(dumps) != 1 || len(by) != 1 || by[0] != "server:host-a" {
		t.Fatalf("%d dumps, backups audited by %v; want one, by the lease holder server:host-a", len(dumps), by)
	}
	if l, held, _ := st.AcquireLease(ctx, infra.BackupsLease, "probe", time.Second, time.Now()); held || l.Holder != "host-a" {
		t.Fatalf("lease %+v, want host-a's", l)
	}
}
