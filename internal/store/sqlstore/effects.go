package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// writeEffects writes e for a change of rollout r made at at, inside the
// change's transaction. The order is also the lock order (audit, events,
// queue) every writer keeps, so that concurrent writers on PostgreSQL never
// deadlock.
func (db *DB) writeEffects(ctx context.Context, tx *sql.Tx, r store.Rollout, at time.Time, e store.Effects) error {
	if e.Audit != nil {
		if _, err := db.appendAudit(ctx, tx, *e.Audit); err != nil {
			return err
		}
	}
	for i, ev := range e.Events {
		if _, err := db.appendEvent(ctx, tx, ev, at); err != nil {
			return fmt.Errorf("event %d of %d: %w", i+1, len(e.Events), err)
		}
	}
	if e.Stable != nil {
		s := *e.Stable
		s.RolloutID = r.ID
		if err := db.setStable(ctx, tx, s); err != nil {
			return err
		}
	}
	if e.Reject != nil {
		if err := db.reject(ctx, tx, r, at, *e.Reject); err != nil {
			return err
		}
	}
	if e.Enqueue != nil {
		q := *e.Enqueue
		if q.ReleaseID == 0 {
			q.ReleaseID = r.ReleaseID
		}
		if q.CreatedAt.IsZero() {
			q.CreatedAt = at
		}
		if _, err := db.enqueue(ctx, tx, q); err != nil {
			return err
		}
	}
	return nil
}
