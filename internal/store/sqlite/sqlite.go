// Package sqlite is belay's default store: one SQLite file (pure Go driver)
// in WAL mode. Writes go through a single connection with immediate
// transactions, so writers in this process queue instead of failing with
// SQLITE_BUSY, and writers in other processes wait up to the busy timeout.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the SQLite schema steps, in order.
func Migrations() ([]sqlstore.Migration, error) {
	return sqlstore.LoadMigrations(migrations, "migrations")
}

// BusyTimeout is how long a writer waits for another process's transaction.
const BusyTimeout = 10 * time.Second

// Dialect is SQLite's.
var Dialect = sqlstore.Dialect{
	Name:     "sqlite",
	IsUnique: isUnique,
	Time:     func(t time.Time) any { return t.Format(sqlstore.SQLiteTime) },
}

func isUnique(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) &&
		(e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// Open opens the database file at path, creating it and its directory, and
// migrates it.
func Open(ctx context.Context, path string, log *slog.Logger) (store.Store, error) {
	return open(ctx, path, log, nil)
}

// open migrates with ms when given (tests use it to simulate other schemas).
func open(ctx context.Context, path string, log *slog.Logger, ms []sqlstore.Migration) (store.Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("%w: sqlite path %q must be a file name without ? or #", store.ErrInvalid, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: create directory for %s: %w", path, err)
	}
	w, err := pool(path, "&_txlock=immediate", 1)
	if err != nil {
		return nil, err
	}
	if ms == nil {
		if ms, err = Migrations(); err != nil {
			return nil, errors.Join(err, w.Close())
		}
	}
	if err := sqlstore.Migrate(ctx, w, Dialect, ms, time.Now, log); err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", path, err), w.Close())
	}
	r, err := pool(path, "&_pragma=query_only(1)", 4)
	if err != nil {
		return nil, errors.Join(err, w.Close())
	}
	return sqlstore.New(w, r, Dialect, log), nil
}

// pool opens a connection pool on path; every connection gets the pragmas.
func pool(path, extra string, conns int) (*sql.DB, error) {
	dsn := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)%s",
		path, BusyTimeout.Milliseconds(), extra)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(0)
	return db, nil
}
