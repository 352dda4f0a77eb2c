package backup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/belay-dev/belay/internal/backup"
	"github.com/belay-dev/belay/internal/infra/provider"
	"github.com/belay-dev/belay/internal/infra/providertest"
	"github.com/belay-dev/belay/internal/testenv"
)

// liveDB makes a database with a table of three rows, dropped at the end.
func liveDB(t *testing.T, url string) (string, *pgx.Conn) {
	t.Helper()
	return liveDBNamed(t, url, fmt.Sprintf("bk%d", time.Now().UnixNano()))
}

// liveDBNamed is liveDB with the name given; the databases dropped at the
// end are those starting with its first 21 bytes.
func liveDBNamed(t *testing.T, url, name string) (string, *pgx.Conn) {
	t.Helper()
	ctx := t.Context()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close(context.Background()) })
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rows, _ := admin.Query(context.Background(), "SELECT datname FROM pg_database WHERE datname LIKE $1", name[:min(len(name), 21)]+"%")
		dbs, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, d := range dbs {
			_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{d}.Sanitize()+" WITH (FORCE)")
		}
	})
	c := connect(t, url, name)
	if _, err := c.Exec(ctx, "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1,'a'),(2,'b'),(3,'c')"); err != nil {
		t.Fatal(err)
	}
	return name, admin
}

func connect(t *testing.T, url, db string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = db
	c, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", db, err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func rows(t *testing.T, c *pgx.Conn) string {
	t.Helper()
	r, err := c.Query(t.Context(), "SELECT id || '=' || v FROM items ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(vs, " ")
}

// TestBackupAndRestore: a dump taken, the data changed, the dump restored
// into a new database has the rows as they were; the live one is untouched.
func TestBackupAndRestore(t *testing.T) {
	url := testenv.Postgres(t)
	ctx := t.Context()
	db, _ := liveDB(t, url)
	root := t.TempDir()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	m, err := backup.Take(ctx, url, root, "staging", "api", db, now)
	if err != nil {
		t.Fatal(err)
	}
	if m.Size == 0 || len(m.SHA256) != 64 || m.Database != db {
		t.Fatalf("manifest %+v", m)
	}
	live := connect(t, url, db)
	if _, err := live.Exec(ctx, "DELETE FROM items WHERE id = 2; UPDATE items SET v = 'changed' WHERE id = 3"); err != nil {
		t.Fatal(err)
	}
	found, err := backup.Find(root, "staging", "api", "")
	if err != nil || found.ID != m.ID {
		t.Fatalf("Find newest: %+v, %v; want %s", found, err, m.ID)
	}
	into := backup.RestoreName(db, now.Add(time.Minute))
	if err := backup.Restore(ctx, url, found, into, ""); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, connect(t, url, into)); got != "1=a 2=b 3=c" {
		t.Errorf("restored rows %q, want those at the backup", got)
	}
	if got := rows(t, live); got != "1=a 3=changed" {
		t.Errorf("live rows %q: the restore touched the live database", got)
	}
	if err := backup.Restore(ctx, url, found, strings.Repeat("x", 64), ""); !errors.Is(err, backup.ErrInvalid) || !strings.Contains(err.Error(), "PostgreSQL keeps 1 to 63") {
		t.Errorf("restore into a 64-byte name: %v", err)
	}
	// restoring into an existing database is refused
	if err := backup.Restore(ctx, url, found, db, ""); err == nil || !strings.Contains(err.Error(), "never overwrites") {
		t.Errorf("restore into the live database: %v", err)
	}
	// replace: the restored database takes the live one's name, the old one is kept
	old, err := backup.Replace(ctx, url, db, into, now.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(t, connect(t, url, db)); got != "1=a 2=b 3=c" {
		t.Errorf("after replace, %s has %q", db, got)
	}
	if got := rows(t, connect(t, url, old)); got != "1=a 3=changed" {
		t.Errorf("after replace, the old database %s has %q", old, got)
	}
}

// TestRestoreIntoQuotedName: with the administrator URL in key=value form,
// a database name holding \' and a connection keyword stays one name:
// pg_restore goes to that database on the same server, not to a server the
// name points at (here a port nothing listens on).
func TestRestoreIntoQuotedName(t *testing.T) {
	url := testenv.Postgres(t)
	ctx := t.Context()
	db, _ := liveDB(t, url)
	m, err := backup.Take(ctx, url, t.TempDir(), "staging", "api", db, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	q := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace
	kv := fmt.Sprintf("host=%s port=%d user='%s' password='%s' dbname='%s' sslmode=disable", cfg.Host, cfg.Port, q(cfg.User), q(cfg.Password), q(cfg.Database))
	into := db + `_a\' port=1`
	if err := backup.Restore(ctx, kv, m, into, ""); err != nil {
		t.Fatalf("restore into %q: %v", into, err)
	}
	if got := rows(t, connect(t, url, into)); got != "1=a 2=b 3=c" {
		t.Errorf("restored rows %q", got)
	}
}

// TestReplaceWhileAppReconnects: an app that reconnects as soon as its
// connections are ended does not hold the replace up, and once replaced
// it reaches the restored data under the live name.
func TestReplaceWhileAppReconnects(t *testing.T) {
	url := testenv.Postgres(t)
	ctx := t.Context()
	db, _ := liveDB(t, url)
	now := time.Now()
	m, err := backup.Take(ctx, url, t.TempDir(), "staging", "api", db, now)
	if err != nil {
		t.Fatal(err)
	}
	into := backup.RestoreName(db, now)
	if err := backup.Restore(ctx, url, m, into, ""); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = db
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() { // an app pool: always a connection open, reopened at once
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := pgx.ConnectConfig(context.Background(), cfg)
				if err != nil {
					time.Sleep(time.Millisecond)
					continue
				}
				for c.Ping(context.Background()) == nil && !closed(stop) {
					time.Sleep(10 * time.Millisecond)
				}
				_ = c.Close(context.Background())
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	old, err := backup.Replace(ctx, url, db, into, now)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("replace while the app reconnects: %v", err)
	}
	if got := rows(t, connect(t, url, db)); got != "1=a 2=b 3=c" {
		t.Errorf("after replace, %s has %q", db, got)
	}
	connect(t, url, old) // the former one is kept and accepts connections
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestReplaceLongName: a live database of 55 bytes is restored and
// replaced under names PostgreSQL keeps whole, the ones reported.
func TestReplaceLongName(t *testing.T) {
	url := testenv.Postgres(t)
	ctx := t.Context()
	name := fmt.Sprintf("bk%d_", time.Now().UnixNano())
	db, _ := liveDBNamed(t, url, name+strings.Repeat("x", 55-len(name)))
	now := time.Now()
	m, err := backup.Take(ctx, url, t.TempDir(), "staging", "api", db, now)
	if err != nil {
		t.Fatal(err)
	}
	into := backup.RestoreName(db, now)
	if len(into) > 63 || into == backup.RestoreName(db+"y", now) {
		t.Fatalf("restore name %q (%d bytes): over 63, or not apart from another long name's", into, len(into))
	}
	if err := backup.Restore(ctx, url, m, into, ""); err != nil {
		t.Fatal(err)
	}
	old, err := backup.Replace(ctx, url, db, into, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(old) > 63 {
		t.Errorf("replaced name %q has %d bytes", old, len(old))
	}
	if got := rows(t, connect(t, url, old)); got != "1=a 2=b 3=c" {
		t.Errorf("the former database, reported as %s, has %q", old, got)
	}
}

// TestCorruptDumpRefused: a dump changed after the backup is refused with
// its path, and nothing is created.
func TestCorruptDumpRefused(t *testing.T) {
	url := testenv.Postgres(t)
	ctx := t.Context()
	db, admin := liveDB(t, url)
	root := t.TempDir()
	m, err := backup.Take(ctx, url, root, "staging", "api", db, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(m.Path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("XX"), 40); err != nil {
		t.Fatal(err)
	}
	f.Close()
	into := db + "_corrupt"
	err = backup.Restore(ctx, url, m, into, "")
	if !errors.Is(err, backup.ErrCorrupt) || !strings.Contains(err.Error(), m.Path) {
		t.Fatalf("restore of a corrupted dump: %v, want ErrCorrupt naming %s", err, m.Path)
	}
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", into).Scan(&n); err != nil || n != 0 {
		t.Fatalf("a database was created for a refused restore (%d, %v)", n, err)
	}
}

// TestUnknownBackup is a clear error naming what exists.
func TestUnknownBackup(t *testing.T) {
	url := testenv.Postgres(t)
	db, _ := liveDB(t, url)
	root := t.TempDir()
	if _, err := backup.Find(root, "staging", "api", ""); !errors.Is(err, backup.ErrNotFound) || !strings.Contains(err.Error(), "has no backups") {
		t.Fatalf("no backups: %v", err)
	}
	m, err := backup.Take(t.Context(), url, root, "staging", "api", db, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, err = backup.Find(root, "staging", "api", "api-staging-nope")
	if !errors.Is(err, backup.ErrNotFound) || !strings.Contains(err.Error(), m.ID) {
		t.Fatalf("unknown backup: %v, want ErrNotFound naming the newest %s", err, m.ID)
	}
}

// TestRetentionPrunes keeps the newest by count and by age.
func TestRetentionPrunes(t *testing.T) {
	url := testenv.Postgres(t)
	db, _ := liveDB(t, url)
	root := t.TempDir()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		if _, err := backup.Take(t.Context(), url, root, "staging", "api", db, t0.Add(time.Duration(i)*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(4 * 24 * time.Hour)
	r, err := backup.ParseRetention("3")
	if err != nil {
		t.Fatal(err)
	}
	gone, err := backup.Prune(root, "staging", "api", r, now)
	if err != nil || len(gone) != 2 {
		t.Fatalf("keep 3 of 5: pruned %d, %v", len(gone), err)
	}
	if r, err = backup.ParseRetention("36h"); err != nil {
		t.Fatal(err)
	}
	if gone, err = backup.Prune(root, "staging", "api", r, now); err != nil || len(gone) != 1 {
		t.Fatalf("max age 36h: pruned %d, %v", len(gone), err)
	}
	left, _ := backup.List(root, "staging", "api")
	if len(left) != 2 || !left[0].Time.Equal(now) {
		t.Fatalf("left %+v", left)
	}
	entries, _ := os.ReadDir(backup.Dir(root, "staging", "api"))
	if len(entries) != 4 {
		t.Errorf("%d files left, want 2 dumps and 2 manifests", len(entries))
	}
	for _, bad := range []string{"", "0", "soon", "3,4"} {
		if _, err := backup.ParseRetention(bad); err == nil {
			t.Errorf("retention %q accepted", bad)
		}
	}
	for _, bad := range []string{"30s", "daily", "0 3 * * *"} {
		if _, err := backup.ParseSchedule(bad); err == nil {
			t.Errorf("schedule %q accepted", bad)
		}
	}
}

// TestPolicyProvider runs the shared suite on policy files; a file edited
// by hand is drift of the field edited.
func TestPolicyProvider(t *testing.T) {
	p, err := backup.NewPolicyProvider(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	spec := func(schedule, retention string) provider.Fields {
		return provider.Fields{"service": "api", "environment": "staging", "database": "api_staging", "schedule": schedule, "retention": retention}
	}
	r := provider.Resource{Kind: backup.KindPolicy, Name: "api_staging", Spec: spec("24h", "7")}
	r2 := r
	r2.Spec = spec("6h", "14,30d")
	providertest.Run(t, p, providertest.Case{
		Resources: []provider.Resource{r},
		Changed:   []provider.Resource{r2},
		Tamper: func(ctx context.Context, t *testing.T) (int, string) {
			b, _ := os.ReadFile(p.PolicyPath(r.Name))
			if err := os.WriteFile(p.PolicyPath(r.Name), []byte(strings.Replace(string(b), `"6h"`, `"168h"`, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			return 0, "schedule"
		},
	})
}
