package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/belay-dev/belay/internal/store"
)

// AddSamples stores samples and keeps each rollout's newest MaxSamples.
func (db *DB) AddSamples(ctx context.Context, ss []store.Sample) error {
	for _, s := range ss {
		if s.Version == "" || s.Requests < 0 || s.Errors < 0 {
			return fmt.Errorf("%w: sample of rollout %d: version %q, requests %d, errors %d: a version and counts of 0 or more are needed",
				store.ErrInvalid, s.RolloutID, s.Version, s.Requests, s.Errors)
		}
	}
	if len(ss) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		seen := map[int64]bool{}
		for _, s := range ss {
			if !seen[s.RolloutID] {
				if _, err := db.getRollout(ctx, tx, s.RolloutID); err != nil {
					return err
				}
				seen[s.RolloutID] = true
			}
			var p95 any
			if s.P95 != nil {
				p95 = *s.P95
			}
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO rollout_samples (rollout_id, at, version, requests, errors, p95)
				VALUES (?, ?, ?, ?, ?, ?)`), s.RolloutID, db.t(s.At), s.Version, s.Requests, s.Errors, p95); err != nil {
				return fmt.Errorf("store: add sample of rollout %d: %w", s.RolloutID, err)
			}
		}
		for id := range seen {
			if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM rollout_samples WHERE rollout_id = ? AND id <= (
				SELECT id FROM rollout_samples WHERE rollout_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`),
				id, id, store.MaxSamples); err != nil {
				return fmt.Errorf("store: prune samples of rollout %d: %w", id, err)
			}
		}
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM rollout_samples WHERE rollout_id <= (
			SELECT id FROM rollouts ORDER BY id DESC LIMIT 1 OFFSET ?)`), store.MaxSampledRollouts); err != nil {
			return fmt.Errorf("store: prune samples of old rollouts: %w", err)
		}
		return nil
	})
}

// SamplesOf lists a rollout's samples, oldest first.
func (db *DB) SamplesOf(ctx context.Context, rolloutID int64) ([]store.Sample, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT rollout_id, at, version, requests, errors, p95
		FROM rollout_samples WHERE rollout_id = ? ORDER BY id`), rolloutID)
	if err != nil {
		return nil, fmt.Errorf("store: samples of rollout %d: %w", rolloutID, err)
	}
	defer rows.Close()
	var out []store.Sample
	for rows.Next() {
		var s store.Sample
		var p95 sql.NullFloat64
		if err := rows.Scan(&s.RolloutID, timeCol{&s.At}, &s.Version, &s.Requests, &s.Errors, &p95); err != nil {
			return nil, fmt.Errorf("store: samples of rollout %d: %w", rolloutID, err)
		}
		if p95.Valid {
			v := p95.Float64
			s.P95 = &v
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
