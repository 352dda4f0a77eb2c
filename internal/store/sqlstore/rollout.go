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

// CreateRollout stores a new rollout of a release at Seq 0 with the effects
// of its creation. Service and Version default to the release's and must
// match it.
func (db *DB) CreateRollout(ctx context.Context, r store.Rollout, with store.Effects) (store.Rollout, error) {
	err := db.inTx(ctx, func(tx *sql.Tx) error { return db.createRollout(ctx, tx, &r, with) })
	if err != nil {
		r.ID = 0 // rolled back
		return r, fmt.Errorf("store: create rollout of %s in %s: %w", r.Service, r.Environment, db.explainActiveRace(ctx, r, err))
	}
	return r, nil
}

// createRollout inserts r, setting its ID, and writes with. A unique
// violation of the active-rollout index is errActiveRace: on PostgreSQL the
// transaction is aborted, so the caller explains it after rolling back.
func (db *DB) createRollout(ctx context.Context, tx *sql.Tx, r *store.Rollout, with store.Effects) error {
	if err := required("rollout", "environment", r.Environment, "phase", r.Phase); err != nil {
		return err
	}
	state, err := jsonArg("rollout state", r.State)
	if err != nil {
		return err
	}
	r.Seq, r.CreatedAt = 0, Norm(r.CreatedAt)
	r.UpdatedAt = r.CreatedAt
	if err := db.matchRelease(ctx, tx, r); err != nil {
		return err
	}
	if !r.Terminal {
		if err := db.refuseActive(ctx, tx, r.Service, r.Environment); err != nil {
			return err
		}
	}
	err = tx.QueryRowContext(ctx, db.q(`INSERT INTO rollouts (release_id, service, environment, version,
		phase, state, terminal, seq, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING id`),
		r.ReleaseID, r.Service, r.Environment, r.Version, r.Phase, state, r.Terminal,
		db.t(r.CreatedAt), db.t(r.UpdatedAt)).Scan(&r.ID)
	if db.d.IsUnique(err) {
		return errActiveRace
	}
	if err != nil {
		return err
	}
	return db.writeEffects(ctx, tx, *r, r.CreatedAt, with)
}

// explainActiveRace turns errActiveRace into ErrConflict naming the rollout
// that won the race; other errors pass through.
func (db *DB) explainActiveRace(ctx context.Context, r store.Rollout, err error) error {
	if !errors.Is(err, errActiveRace) {
		return err
	}
	if err := db.refuseActive(ctx, db.r, r.Service, r.Environment); err != nil {
		return err
	}
	// The winner finished in the meantime: the environment is free again.
	return fmt.Errorf("%w: another rollout of %s in %s started at the same time; try again",
		store.ErrConflict, r.Service, r.Environment)
}

func (db *DB) matchRelease(ctx context.Context, tx *sql.Tx, r *store.Rollout) error {
	service, version, err := db.releaseOf(ctx, tx, r.ReleaseID)
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

// releaseOf returns the service and version of release id, or ErrNotFound.
func (db *DB) releaseOf(ctx context.Context, q querier, id int64) (service, version string, err error) {
	err = q.QueryRowContext(ctx, db.q("SELECT service, version FROM releases WHERE id = ?"), id).Scan(&service, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("%w: no release %d", store.ErrNotFound, id)
	}
	if err != nil {
		return "", "", fmt.Errorf("store: release %d: %w", id, err)
	}
	return service, version, nil
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
		AND (? = 0 OR release_id = ?)
		ORDER BY id`, f.Service, f.Service, f.Environment, f.Environment, false, !f.Active, f.Release, f.Release)
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
