package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// Migration is one numbered schema step, read from NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads every *.sql file of dir in fsys; names start with
// their version number, and versions are 1, 2, 3, … without gaps.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, name, _ := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("store: migration %s: name must start with its number", e.Name())
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: migration %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("store: migrations: expected version %d, found %d (%s)", i+1, m.Version, m.Name)
		}
	}
	return ms, nil
}

// Migrate brings the schema up to the last of ms, one transaction per step,
// and refuses a database whose schema is newer than ms. Several processes
// may migrate at once: each step re-reads the version under a lock.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, ms []Migration, now func() time.Time, log *slog.Logger) error {
	s := New(db, db, d, log)
	for {
		done, err := s.migrateStep(ctx, ms, now)
		if err != nil || done {
			return err
		}
	}
}

func (db *DB) migrateStep(ctx context.Context, ms []Migration, now func() time.Time) (done bool, err error) {
	d := db.d
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.lock(ctx, tx, LockMigrations); err != nil {
			return fmt.Errorf("store: migrations lock: %w", err)
		}
		if _, err := tx.ExecContext(ctx, schemaMigrations); err != nil {
			return fmt.Errorf("store: create schema_migrations: %w", err)
		}
		var cur int
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&cur); err != nil {
			return fmt.Errorf("store: read schema version: %w", err)
		}
		if cur > len(ms) {
			return fmt.Errorf("%w: the %s database is at schema version %d, this belay knows up to %d; "+
				"use the belay release that last wrote it, or a newer one", store.ErrSchemaTooNew, d.Name, cur, len(ms))
		}
		if cur == len(ms) {
			done = true
			return nil
		}
		m := ms[cur]
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("store: migration %d (%s): %w", m.Version, m.Name, err)
		}
		_, err := tx.ExecContext(ctx, db.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
			m.Version, m.Name, now().UTC().Format(time.RFC3339Nano))
		if err == nil {
			db.log.Info("store: migrated", "backend", d.Name, "version", m.Version, "name", m.Name)
		}
		return err
	})
	return done, err
}

// schemaMigrations is valid in both dialects; applied_at is text so that
// the table never needs a migration itself.
const schemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER PRIMARY KEY,
	name TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`
