package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/belay-dev/belay/internal/store"
)

// Transition moves rollout id from expectedSeq to expectedSeq+1, writing the
// transition row and the step's effects in the same transaction. The UPDATE
// is conditional on seq, so of several concurrent or retried transitions
// from one seq exactly one applies.
func (db *DB) Transition(ctx context.Context, id, expectedSeq int64, next store.RolloutState, step store.Step) (store.Rollout, error) {
	if next.Phase == "" {
		return store.Rollout{}, fmt.Errorf("%w: transition of rollout %d needs a phase", store.ErrInvalid, id)
	}
	state, err := jsonArg("rollout state", next.State)
	if err != nil {
		return store.Rollout{}, err
	}
	evidence, err := jsonArg("transition evidence", step.Evidence)
	if err != nil {
		return store.Rollout{}, err
	}
	var out store.Rollout
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := db.getRollout(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := stale(cur, expectedSeq); err != nil {
			db.log.Debug("store: stale transition refused", "rollout", id, "seq", cur.Seq, "expected", expectedSeq)
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE rollouts SET phase = ?, state = ?, terminal = ?, seq = ?, updated_at = ?
			WHERE id = ? AND seq = ?`), next.Phase, state, next.Terminal, expectedSeq+1, db.t(step.At), id, expectedSeq)
		if db.d.IsUnique(err) {
			return fmt.Errorf("%w: rollout %d cannot become active again: another rollout of %s in %s is active",
				store.ErrConflict, id, cur.Service, cur.Environment)
		}
		if err != nil {
			return fmt.Errorf("store: update rollout %d: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("%w: rollout %d moved past seq %d concurrently; reload it and decide again", store.ErrConflict, id, expectedSeq)
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO transitions (rollout_id, seq, from_phase, to_phase, at, reason, evidence)
			VALUES (?, ?, ?, ?, ?, ?, ?)`), id, expectedSeq+1, cur.Phase, next.Phase, db.t(step.At), step.Reason, evidence)
		if db.d.IsUnique(err) {
			return fmt.Errorf("%w: transition %d of rollout %d is already recorded", store.ErrConflict, expectedSeq+1, id)
		}
		if err != nil {
			return fmt.Errorf("store: record transition of rollout %d: %w", id, err)
		}
		if err := db.writeEffects(ctx, tx, cur, step.At, step.Effects); err != nil {
			return err
		}
		out, err = db.getRollout(ctx, tx, id)
		return err
	})
	return out, err
}

// stale refuses a transition from a seq the rollout has left, or of a
// finished rollout.
func stale(cur store.Rollout, expectedSeq int64) error {
	if cur.Seq != expectedSeq {
		return fmt.Errorf("%w: rollout %d is at seq %d, not %d (phase %s); reload it and decide again",
			store.ErrConflict, cur.ID, cur.Seq, expectedSeq, cur.Phase)
	}
	if cur.Terminal {
		return fmt.Errorf("%w: rollout %d is finished (phase %s)", store.ErrConflict, cur.ID, cur.Phase)
	}
	return nil
}

// Transitions lists a rollout's transitions in order.
func (db *DB) Transitions(ctx context.Context, rolloutID int64) ([]store.Transition, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT rollout_id, seq, from_phase, to_phase, at, reason, evidence
		FROM transitions WHERE rollout_id = ? ORDER BY seq`), rolloutID)
	if err != nil {
		return nil, fmt.Errorf("store: transitions of rollout %d: %w", rolloutID, err)
	}
	defer rows.Close()
	var out []store.Transition
	for rows.Next() {
		var t store.Transition
		if err := rows.Scan(&t.RolloutID, &t.Seq, &t.From, &t.To, timeCol{&t.At}, &t.Reason, jsonCol{&t.Evidence}); err != nil {
			return nil, fmt.Errorf("store: transitions of rollout %d: %w", rolloutID, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
