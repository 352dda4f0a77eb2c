package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/belay-dev/belay/internal/store"
)

const queueCols = "id, release_id, service, environment, state, reason, COALESCE(rollout_id, 0), created_at, updated_at"

func scanQueued(row interface{ Scan(...any) error }) (store.QueueEntry, error) {
	var q store.QueueEntry
	err := row.Scan(&q.ID, &q.ReleaseID, &q.Service, &q.Environment, &q.State, &q.Reason, &q.RolloutID,
		timeCol{&q.CreatedAt}, timeCol{&q.UpdatedAt})
	return q, err
}

// Enqueue stores a waiting entry; a release already waiting for the
// environment is not queued twice: its entry is returned.
func (db *DB) Enqueue(ctx context.Context, q store.QueueEntry) (store.QueueEntry, error) {
	var out store.QueueEntry
	err := db.inTx(ctx, func(tx *sql.Tx) (err error) {
		out, err = db.enqueue(ctx, tx, q)
		return err
	})
	return out, err
}

func (db *DB) enqueue(ctx context.Context, tx *sql.Tx, q store.QueueEntry) (store.QueueEntry, error) {
	if err := required("queue entry", "environment", q.Environment); err != nil {
		return q, err
	}
	service, version, err := db.releaseOf(ctx, tx, q.ReleaseID)
	if err != nil {
		return q, err
	}
	if q.Service == "" {
		q.Service = service
	}
	if q.Service != service {
		return q, fmt.Errorf("%w: queue entry for %s does not match release %d of %s", store.ErrInvalid, q.Service, q.ReleaseID, service)
	}
	if err := db.lock(ctx, tx, lockQueue); err != nil {
		return q, fmt.Errorf("store: queue lock: %w", err)
	}
	q.State, q.RolloutID, q.CreatedAt = store.QueueWaiting, 0, Norm(q.CreatedAt)
	q.UpdatedAt = q.CreatedAt
	if q.Supersede {
		_, err := tx.ExecContext(ctx, db.q(`UPDATE queue_entries SET state = ?, reason = ?, updated_at = ?
			WHERE service = ? AND environment = ? AND state = ? AND release_id <> ?`),
			store.QueueSuperseded, fmt.Sprintf("superseded by release %d (%s)", q.ReleaseID, version), db.t(q.CreatedAt),
			q.Service, q.Environment, store.QueueWaiting, q.ReleaseID)
		if err != nil {
			return q, fmt.Errorf("store: supersede the queue of %s in %s: %w", q.Service, q.Environment, err)
		}
	}
	old, err := scanQueued(tx.QueryRowContext(ctx, db.q("SELECT "+queueCols+` FROM queue_entries
		WHERE release_id = ? AND environment = ? AND state = ?`), q.ReleaseID, q.Environment, store.QueueWaiting))
	if err == nil {
		return old, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return q, fmt.Errorf("store: queue of %s: %w", q.Environment, err)
	}
	err = tx.QueryRowContext(ctx, db.q(`INSERT INTO queue_entries (release_id, service, environment, state, reason,
		created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		q.ReleaseID, q.Service, q.Environment, q.State, q.Reason, db.t(q.CreatedAt), db.t(q.UpdatedAt)).Scan(&q.ID)
	if err != nil {
		return q, fmt.Errorf("store: enqueue release %d for %s: %w", q.ReleaseID, q.Environment, err)
	}
	return q, nil
}

// GetQueued returns queue entry id.
func (db *DB) GetQueued(ctx context.Context, id int64) (store.QueueEntry, error) {
	return db.getQueued(ctx, db.r, id)
}

func (db *DB) getQueued(ctx context.Context, q querier, id int64) (store.QueueEntry, error) {
	e, err := scanQueued(q.QueryRowContext(ctx, db.q("SELECT "+queueCols+" FROM queue_entries WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("%w: no queue entry %d", store.ErrNotFound, id)
	}
	if err != nil {
		return e, fmt.Errorf("store: queue entry %d: %w", id, err)
	}
	return e, nil
}

// ListQueue lists queue entries, oldest first.
func (db *DB) ListQueue(ctx context.Context, releaseID int64, waitingOnly bool) ([]store.QueueEntry, error) {
	rows, err := db.r.QueryContext(ctx, db.q("SELECT "+queueCols+` FROM queue_entries
		WHERE (? = 0 OR release_id = ?) AND (state = ? OR ?) ORDER BY id`),
		releaseID, releaseID, store.QueueWaiting, !waitingOnly)
	if err != nil {
		return nil, fmt.Errorf("store: queue: %w", err)
	}
	defer rows.Close()
	var out []store.QueueEntry
	for rows.Next() {
		q, err := scanQueued(rows)
		if err != nil {
			return nil, fmt.Errorf("store: queue: %w", err)
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// StartQueued creates r for waiting entry id and marks the entry started.
// The entry is updated last, after the rollout's effects, to keep the lock
// order of writeEffects.
func (db *DB) StartQueued(ctx context.Context, id int64, r store.Rollout, with store.Effects) (store.Rollout, error) {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		q, err := db.getQueued(ctx, tx, id)
		if err != nil {
			return err
		}
		if q.State != store.QueueWaiting {
			return notWaiting(q)
		}
		if r.ReleaseID == 0 {
			r.ReleaseID = q.ReleaseID
		}
		if r.Environment == "" {
			r.Environment = q.Environment
		}
		if r.ReleaseID != q.ReleaseID || r.Environment != q.Environment {
			return fmt.Errorf("%w: rollout of release %d in %s does not match queue entry %d (release %d for %s)",
				store.ErrInvalid, r.ReleaseID, r.Environment, id, q.ReleaseID, q.Environment)
		}
		if err := db.createRollout(ctx, tx, &r, with); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE queue_entries SET state = ?, rollout_id = ?, updated_at = ?
			WHERE id = ? AND state = ?`), store.QueueStarted, r.ID, db.t(r.CreatedAt), id, store.QueueWaiting)
		if err != nil {
			return fmt.Errorf("mark it started: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("%w: queue entry %d was ended while its rollout started; reload the queue", store.ErrConflict, id)
		}
		return nil
	})
	if err != nil {
		r.ID = 0 // rolled back
		return r, fmt.Errorf("store: start queue entry %d: %w", id, db.explainActiveRace(ctx, r, err))
	}
	return r, nil
}

// EndQueued cancels or supersedes waiting entry id. The audit entry, when
// given, is written first: writeEffects' lock order.
func (db *DB) EndQueued(ctx context.Context, id int64, state, reason string, audit *store.AuditEntry) error {
	if state != store.QueueCancelled && state != store.QueueSuperseded {
		return fmt.Errorf("%w: a queue entry ends %s or %s, not %q", store.ErrInvalid, store.QueueCancelled, store.QueueSuperseded, state)
	}
	at := db.now()
	if audit != nil {
		at = audit.At
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if audit != nil {
			if _, err := db.appendAudit(ctx, tx, *audit); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE queue_entries SET state = ?, reason = ?, updated_at = ?
			WHERE id = ? AND state = ?`), state, reason, db.t(at), id, store.QueueWaiting)
		if err != nil {
			return fmt.Errorf("store: end queue entry %d: %w", id, err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			return nil
		}
		q, err := db.getQueued(ctx, tx, id)
		if err != nil {
			return err
		}
		return notWaiting(q)
	})
}

func notWaiting(q store.QueueEntry) error {
	return fmt.Errorf("%w: queue entry %d (release %d for %s) is %s, not waiting", store.ErrConflict,
		q.ID, q.ReleaseID, q.Environment, q.State)
}
