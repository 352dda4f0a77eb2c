// Package sqlstore implements store.Store over database/sql. The sqlite and
// postgres backends open their connections, migrate with their own embedded
// SQL and hand them here with a Dialect: the queries are the same, only
// placeholders, error codes, time encoding and locking differ.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// Dialect is what differs between databases.
type Dialect struct {
	Name string
	// Numbered placeholders: queries are written with "?" and rewritten to
	// $1, $2, … when set.
	Numbered bool
	// IsUnique reports a unique or primary key violation.
	IsUnique func(error) bool
	// Lock takes a transaction-scoped lock named by key, serialising writers
	// that must commit in order (event IDs, migrations). Nil where the
	// database already has a single writer.
	Lock func(ctx context.Context, tx *sql.Tx, key int64) error
	// Time encodes a time parameter; values are already UTC and truncated
	// to microseconds.
	Time func(time.Time) any
}

// Lock keys.
const (
	LockMigrations int64 = 0x62656c6179_01 // "belay" 1
	lockEvents     int64 = 0x62656c6179_02
	lockAudit      int64 = 0x62656c6179_03
	// lockQueue serialises enqueues, so that a release waits at most once
	// per environment and a superseding entry sees every older one. Taken
	// after lockAudit and lockEvents, never before, so writers do not deadlock.
	lockQueue int64 = 0x62656c6179_04
	// lockLeases serialises lease takeovers, so that two servers finding
	// the same expired lease do not both take it.
	lockLeases int64 = 0x62656c6179_05
)

// DB is a store.Store over a writer and a reader pool (the same pool where
// the database takes concurrent writers).
type DB struct {
	w, r *sql.DB
	d    Dialect
	log  *slog.Logger
	// now stamps the few rows a caller gives no time for (a queue entry
	// ended without an audit entry).
	now func() time.Time
}

var _ store.Store = (*DB)(nil)

// New returns a store over w (writes) and r (reads); r may be w.
func New(w, r *sql.DB, d Dialect, log *slog.Logger) *DB {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DB{w: w, r: r, d: d, log: log, now: time.Now}
}

// Close closes the pools.
func (db *DB) Close() error {
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	return err
}

// q rewrites placeholders for the dialect.
func (db *DB) q(query string) string { return rebind(query, db.d.Numbered) }

func rebind(query string, numbered bool) string {
	if !numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// inTx runs fn in a write transaction, committing when it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

func (db *DB) lock(ctx context.Context, tx *sql.Tx, key int64) error {
	if db.d.Lock == nil {
		return nil
	}
	return db.d.Lock(ctx, tx, key)
}

// t encodes a time parameter.
func (db *DB) t(v time.Time) any { return db.d.Time(Norm(v)) }

// tOrNull encodes an optional time parameter: NULL when zero.
func (db *DB) tOrNull(v time.Time) any {
	if v.IsZero() {
		return nil
	}
	return db.t(v)
}

// Norm is the form every stored time takes: UTC, microsecond precision.
func Norm(v time.Time) time.Time { return v.UTC().Truncate(time.Microsecond) }
