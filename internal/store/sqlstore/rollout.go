package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/belay-dev/belay/internal/store"
)

const rolloutCols = "id, release_id, service, environment, version, phase, state, terminal, seq, created_at, updated_at"

func scanRollout(row interface{ Scan(...any) error }) (store.Rollout, error) {
	var r store.Rollout
	err := row.Scan(&r.ID, &r.ReleaseID, &r.Service, &r.Environment, &r.Version, &r.Phase,
		jsonCol{&r.State}, boolCol{&r.Terminal}, &r.Seq, timeCol{&r.CreatedAt}, timeCol{&r.UpdatedAt})
	return r, err
}

// errActiveRace: the active-rollout index fired inside a transaction that
// can no longer be used (PostgreSQL aborts it); the caller looks up the
// running rollout afterwards.
var errActiveRace = errors.New("active rollout created concurrently")

// CreateRollout stores a new rollout of a release at Seq 0. Service and
// Version default to the release's and must match it.
func (db *DB) CreateRollout(ctx context.Context, r store.Rollout) (store.Rollout, error) {
	if err := required("rollout", "environment", r.Environment, "phase", r.Phase); err != nil {
		return r, err
	}
	state, err := jsonArg("rollout state", r.State)
	if err != nil {
		return r, err
	}
	r.Seq, r.CreatedAt = 0, Norm(r.CreatedAt)
	r.UpdatedAt = r.CreatedAt
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.matchRelease(ctx, tx, &r); err != nil {
			return err
		}
		if !r.Terminal {
			if err := db.refuseActive(ctx, tx, r.Service, r.Environment); err != nil {
				return err
			}
		}
		err := tx.QueryRowContext(ctx, db.q(`INSERT INTO rollouts (release_id, service, environment, version,
			phase, state, terminal, seq, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING id`),
			r.ReleaseID, r.Service, r.Environment, r.Version, r.Phase, state, r.Terminal,
			db.t(r.CreatedAt), db.t(r.UpdatedAt)).Scan(&r.ID)
		if db.d.IsUnique(err) {
			return errActiveRace
		}
		return err
	})
	if errors.Is(err, errActiveRace) {
		err = db.refuseActive(ctx, db.r, r.Service, r.Environment)
	}
	if err != nil {
		return r, fmt.Errorf("store: create rollout of %s in %s: %w", r.Service, r.Environment, err)
	}
	return r, nil
}

func (db *DB) matchRelease(ctx context.Context, tx *sql.Tx, r *store.Rollout) error {
	var service, version string
	err := tx.QueryRowContext(ctx, db.q("SELECT service, version FROM releases WHERE id = ?"), r.ReleaseID).Scan(&service, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: no release %d", store.ErrNotFound, r.ReleaseID)
	}
	if err != nil {
		return err
	}
	if r.Service == "" {
		r.Service = service
	}
	if r.Version == "" {
		r.Version = version
	}
	if r.Service != service || r.Version != version {
		return fmt.Errorf("%w: rollout of %s %s does not match release %d (%s %s)",
			store.ErrInvalid, r.Service, r.Version, r.ReleaseID, service, version)
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// refuseActive returns ErrConflict naming the active rollout of service in
// env, if there is one.
func (db *DB) refuseActive(ctx context.Context, q querier, service, env string) error {
	var id int64
	var version, phase string
	err := q.QueryRowContext(ctx, db.q(`SELECT id, version, phase FROM rollouts
		WHERE service = ? AND environment = ? AND terminal = ?`), service, env, false).Scan(&id, &version, &phase)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s in %s already has rollout %d of %s in progress (phase %s); wait for it or abort it",
		store.ErrConflict, service, env, id, version, phase)
}

// GetRollout returns rollout id.
func (db *DB) GetRollout(ctx context.Context, id int64) (store.Rollout, error) {
	return db.getRollout(ctx, db.r, id)
}

func (db *DB) getRollout(ctx context.Context, q querier, id int64) (store.Rollout, error) {
	r, err := scanRollout(q.QueryRowContext(ctx, db.q("SELECT "+rolloutCols+" FROM rollouts WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("%w: no rollout %d", store.ErrNotFound, id)
	}
	if err != nil {
		return r, fmt.Errorf("store: rollout %d: %w", id, err)
	}
	return r, nil
}

// ListRollouts lists rollouts matching f, oldest first.
func (db *DB) ListRollouts(ctx context.Context, f store.RolloutFilter) ([]store.Rollout, error) {
	return db.rollouts(ctx, `SELECT `+rolloutCols+` FROM rollouts
		WHERE (? = '' OR service = ?) AND (? = '' OR environment = ?) AND (terminal = ? OR ?)
		ORDER BY id`, f.Service, f.Service, f.Environment, f.Environment, false, !f.Active)
}

// History lists the rollouts of service in env, newest first.
func (db *DB) History(ctx context.Context, service, env string) ([]store.Rollout, error) {
	return db.rollouts(ctx, `SELECT `+rolloutCols+` FROM rollouts
		WHERE service = ? AND environment = ? ORDER BY id DESC`, service, env)
}

func (db *DB) rollouts(ctx context.Context, query string, args ...any) ([]store.Rollout, error) {
	rows, err := db.r.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store: rollouts: %w", err)
	}
	defer rows.Close()
	var out []store.Rollout
	for rows.Next() {
		r, err := scanRollout(rows)
		if err != nil {
			return nil, fmt.Errorf("store: rollouts: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
