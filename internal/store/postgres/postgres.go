// Package postgres is belay's store on PostgreSQL, for a shared or highly
// available control plane. It uses pgx through database/sql; concurrent
// writers are ordered by row locks (rollouts) and advisory locks (event and
// audit IDs, migrations).
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the PostgreSQL schema steps, in order.
func Migrations() ([]sqlstore.Migration, error) {
	return sqlstore.LoadMigrations(migrations, "migrations")
}

// Dialect is PostgreSQL's.
var Dialect = sqlstore.Dialect{
	Name:     "postgres",
	Numbered: true,
	IsUnique: isUnique,
	Lock: func(ctx context.Context, tx *sql.Tx, key int64) error {
		_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", key)
		return err
	},
	Time: func(t time.Time) any { return t },
}

func isUnique(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// Open connects to the database at url (postgres://…; a search_path
// parameter selects the schema) and migrates it.
func Open(ctx context.Context, url string, log *slog.Logger) (store.Store, error) {
	return open(ctx, url, log, nil)
}

func open(ctx context.Context, url string, log *slog.Logger, ms []sqlstore.Migration) (store.Store, error) {
	cfg, err := pgconnConfig(url)
	if err != nil {
		return nil, err
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(8)
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("store: connect to PostgreSQL at %s: %w; check --state / BELAY_STATE", redact(cfg), err), db.Close())
	}
	if ms == nil {
		if ms, err = Migrations(); err != nil {
			return nil, errors.Join(err, db.Close())
		}
	}
	if err := sqlstore.Migrate(ctx, db, Dialect, ms, time.Now, log); err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", redact(cfg), err), db.Close())
	}
	return sqlstore.New(db, db, Dialect, log), nil
}
