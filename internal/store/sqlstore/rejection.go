package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// reject records j for a change of rollout r at at. Empty fields come from
// the rollout j names (r when RolloutID is 0), At from the change.
func (db *DB) reject(ctx context.Context, tx *sql.Tx, r store.Rollout, at time.Time, j store.Rejection) error {
	from := r
	if j.RolloutID != 0 && j.RolloutID != r.ID {
		var err error
		if from, err = db.getRollout(ctx, tx, j.RolloutID); err != nil {
			return fmt.Errorf("rejection: %w", err)
		}
	}
	j.RolloutID = from.ID
	if j.Service == "" {
		j.Service = from.Service
	}
	if j.Version == "" {
		j.Version = from.Version
	}
	if j.Environment == "" {
		j.Environment = from.Environment
	}
	if j.At.IsZero() {
		j.At = at
	}
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO rejections (service, version, environment, rollout_id, reason, at)
		VALUES (?, ?, ?, ?, ?, ?)`), j.Service, j.Version, j.Environment, j.RolloutID, j.Reason, db.t(j.At))
	if err != nil {
		return fmt.Errorf("store: reject %s in %s: %w", j.Version, j.Environment, err)
	}
	return nil
}

// Rejections lists where versions of service were rolled back, oldest first.
func (db *DB) Rejections(ctx context.Context, service, version string) ([]store.Rejection, error) {
	if err := required("rejections query", "service", service); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT service, version, environment, rollout_id, reason, at
		FROM rejections WHERE service = ? AND (? = '' OR version = ?) ORDER BY id`), service, version, version)
	if err != nil {
		return nil, fmt.Errorf("store: rejections of %s: %w", service, err)
	}
	defer rows.Close()
	var out []store.Rejection
	for rows.Next() {
		var j store.Rejection
		if err := rows.Scan(&j.Service, &j.Version, &j.Environment, &j.RolloutID, &j.Reason, timeCol{&j.At}); err != nil {
			return nil, fmt.Errorf("store: rejections: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}
