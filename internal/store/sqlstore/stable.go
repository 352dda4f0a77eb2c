package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/belay-dev/belay/internal/store"
)

// SetStable records s as the stable version of its service in its environment.
func (db *DB) SetStable(ctx context.Context, s store.StableVersion) error {
	return db.inTx(ctx, func(tx *sql.Tx) error { return db.setStable(ctx, tx, s) })
}

func (db *DB) setStable(ctx context.Context, tx *sql.Tx, s store.StableVersion) error {
	if err := required("stable version", "service", s.Service, "environment", s.Environment,
		"version", s.Version, "digest", s.Digest); err != nil {
		return err
	}
	var rollout any
	if s.RolloutID != 0 {
		rollout = s.RolloutID
	}
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO stable_versions (service, environment, version, digest, at, rollout_id)
		VALUES (?, ?, ?, ?, ?, ?)`), s.Service, s.Environment, s.Version, s.Digest, db.t(s.At), rollout)
	if err != nil {
		return fmt.Errorf("store: set stable %s in %s: %w", s.Version, s.Environment, err)
	}
	return nil
}

const stableQuery = `SELECT service, environment, version, digest, at, COALESCE(rollout_id, 0)
	FROM stable_versions WHERE service = ? AND environment = ? ORDER BY id DESC`

func scanStable(row interface{ Scan(...any) error }) (store.StableVersion, error) {
	var s store.StableVersion
	err := row.Scan(&s.Service, &s.Environment, &s.Version, &s.Digest, timeCol{&s.At}, &s.RolloutID)
	return s, err
}

// Stable returns the current stable version of service in env.
func (db *DB) Stable(ctx context.Context, service, env string) (store.StableVersion, error) {
	s, err := scanStable(db.r.QueryRowContext(ctx, db.q(stableQuery+" LIMIT 1"), service, env))
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("%w: %s has no stable version in %s yet", store.ErrNotFound, service, env)
	}
	if err != nil {
		return s, fmt.Errorf("store: stable %s in %s: %w", service, env, err)
	}
	return s, nil
}

// StableHistory lists the stable versions of service in env, newest first.
func (db *DB) StableHistory(ctx context.Context, service, env string) ([]store.StableVersion, error) {
	rows, err := db.r.QueryContext(ctx, db.q(stableQuery), service, env)
	if err != nil {
		return nil, fmt.Errorf("store: stable history of %s in %s: %w", service, env, err)
	}
	defer rows.Close()
	var out []store.StableVersion
	for rows.Next() {
		s, err := scanStable(rows)
		if err != nil {
			return nil, fmt.Errorf("store: stable history: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// LatestStables lists the n newest stable versions of every service in
// every environment.
func (db *DB) LatestStables(ctx context.Context, n int) ([]store.StableVersion, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: latest stables: n must be 1 or more, not %d", store.ErrInvalid, n)
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT service, environment, version, digest, at, COALESCE(rollout_id, 0) FROM (
		SELECT service, environment, version, digest, at, rollout_id, id,
			ROW_NUMBER() OVER (PARTITION BY service, environment ORDER BY id DESC) AS rank
		FROM stable_versions) AS s
		WHERE rank <= ? ORDER BY service, environment, id DESC`), n)
	if err != nil {
		return nil, fmt.Errorf("store: latest stables: %w", err)
	}
	defer rows.Close()
	var out []store.StableVersion
	for rows.Next() {
		s, err := scanStable(rows)
		if err != nil {
			return nil, fmt.Errorf("store: latest stables: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
