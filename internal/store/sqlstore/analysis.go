package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// SaveAnalysis replaces the analysis state of a rollout's step.
func (db *DB) SaveAnalysis(ctx context.Context, rolloutID int64, step int, state json.RawMessage, at time.Time) error {
	if step < 0 {
		return fmt.Errorf("%w: analysis step must not be negative, not %d", store.ErrInvalid, step)
	}
	if len(state) == 0 {
		return fmt.Errorf("%w: analysis state of rollout %d step %d is empty", store.ErrInvalid, rolloutID, step)
	}
	arg, err := jsonArg("analysis state", state)
	if err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.getRollout(ctx, tx, rolloutID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO analysis_states (rollout_id, step, state, saved_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (rollout_id, step) DO UPDATE SET state = excluded.state, saved_at = excluded.saved_at`),
			rolloutID, step, arg, db.t(at))
		if err != nil {
			return fmt.Errorf("store: save analysis of rollout %d step %d: %w", rolloutID, step, err)
		}
		return nil
	})
}

// LoadAnalysis returns the analysis state of a rollout's step.
func (db *DB) LoadAnalysis(ctx context.Context, rolloutID int64, step int) (json.RawMessage, error) {
	var state json.RawMessage
	err := db.r.QueryRowContext(ctx, db.q("SELECT state FROM analysis_states WHERE rollout_id = ? AND step = ?"),
		rolloutID, step).Scan(jsonCol{&state})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no analysis state for step %d of rollout %d", store.ErrNotFound, step, rolloutID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: analysis of rollout %d step %d: %w", rolloutID, step, err)
	}
	return state, nil
}

// DeleteAnalyses removes a rollout's analysis states but step keep's.
func (db *DB) DeleteAnalyses(ctx context.Context, rolloutID int64, keep int) error {
	_, err := db.w.ExecContext(ctx, db.q("DELETE FROM analysis_states WHERE rollout_id = ? AND step <> ?"), rolloutID, keep)
	if err != nil {
		return fmt.Errorf("store: delete analyses of rollout %d: %w", rolloutID, err)
	}
	return nil
}
