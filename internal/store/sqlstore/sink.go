package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// SinkCursor returns sink's cursor, creating it after the newest event.
func (db *DB) SinkCursor(ctx context.Context, sink string, at time.Time) (int64, error) {
	if err := required("sink cursor", "sink", sink); err != nil {
		return 0, err
	}
	// WHERE true: SQLite reads ON CONFLICT after a bare SELECT as a join.
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO sink_cursors (sink, after_id, updated_at)
		SELECT ?, COALESCE(MAX(id), 0), ? FROM events WHERE true ON CONFLICT (sink) DO NOTHING`), sink, db.t(at))
	if err != nil {
		return 0, fmt.Errorf("store: cursor of sink %s: %w", sink, err)
	}
	var after int64
	if err := db.w.QueryRowContext(ctx, db.q("SELECT after_id FROM sink_cursors WHERE sink = ?"), sink).Scan(&after); err != nil {
		return 0, fmt.Errorf("store: cursor of sink %s: %w", sink, err)
	}
	return after, nil
}

// SkipEvents moves sink's cursor forward to after.
func (db *DB) SkipEvents(ctx context.Context, sink string, after int64, at time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error { return db.advance(ctx, tx, sink, after, at) })
}

// advance moves a cursor forward, never back (a stale writer cannot undo
// a newer one's progress).
func (db *DB) advance(ctx context.Context, tx *sql.Tx, sink string, after int64, at time.Time) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO sink_cursors (sink, after_id, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (sink) DO UPDATE SET after_id = excluded.after_id, updated_at = excluded.updated_at
		WHERE sink_cursors.after_id < excluded.after_id`), sink, after, db.t(at))
	if err != nil {
		return fmt.Errorf("store: move cursor of sink %s to %d: %w", sink, after, err)
	}
	return nil
}

// RecordDelivery stores d; a finished delivery moves the cursor with it.
func (db *DB) RecordDelivery(ctx context.Context, d store.Delivery) error {
	if err := required("delivery", "sink", d.Sink); err != nil {
		return err
	}
	switch {
	case d.State != store.DeliveryPending && d.State != store.DeliveryDelivered && d.State != store.DeliveryFailed:
		return fmt.Errorf("%w: delivery state %q", store.ErrInvalid, d.State)
	case d.EventID <= 0 || d.Attempts < 0:
		return fmt.Errorf("%w: delivery of event %d to %s after %d attempts", store.ErrInvalid, d.EventID, d.Sink, d.Attempts)
	}
	if d.UpdatedAt.IsZero() {
		d.UpdatedAt = db.now()
	}
	if d.FirstTry.IsZero() {
		d.FirstTry = d.UpdatedAt
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, db.q("SELECT 1 FROM events WHERE id = ?"), d.EventID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: event %d (delivery to %s)", store.ErrNotFound, d.EventID, d.Sink)
		}
		if err != nil {
			return fmt.Errorf("store: delivery to %s: %w", d.Sink, err)
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO sink_deliveries (sink, event_id, state, attempts, first_try, next_try, last_error, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sink, event_id) DO UPDATE SET state = excluded.state,
			attempts = excluded.attempts, first_try = excluded.first_try, next_try = excluded.next_try,
			last_error = excluded.last_error, updated_at = excluded.updated_at`),
			d.Sink, d.EventID, d.State, d.Attempts, db.t(d.FirstTry), db.tOrNull(d.NextTry), d.LastError, db.t(d.UpdatedAt))
		if err != nil {
			return fmt.Errorf("store: record delivery of event %d to %s: %w", d.EventID, d.Sink, err)
		}
		if d.State == store.DeliveryPending {
			return nil
		}
		return db.advance(ctx, tx, d.Sink, d.EventID, d.UpdatedAt)
	})
}

const deliveryCols = "sink, event_id, state, attempts, first_try, next_try, last_error, updated_at"

func scanDelivery(sc interface{ Scan(...any) error }) (store.Delivery, error) {
	var d store.Delivery
	err := sc.Scan(&d.Sink, &d.EventID, &d.State, &d.Attempts, timeCol{&d.FirstTry}, timeCol{&d.NextTry}, &d.LastError, timeCol{&d.UpdatedAt})
	return d, err
}

// Delivery returns one event's delivery to sink.
func (db *DB) Delivery(ctx context.Context, sink string, eventID int64) (store.Delivery, error) {
	d, err := scanDelivery(db.r.QueryRowContext(ctx, db.q("SELECT "+deliveryCols+" FROM sink_deliveries WHERE sink = ? AND event_id = ?"), sink, eventID))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("%w: no delivery of event %d to sink %s", store.ErrNotFound, eventID, sink)
	}
	if err != nil {
		return d, fmt.Errorf("store: delivery of event %d to %s: %w", eventID, sink, err)
	}
	return d, nil
}

// Deliveries lists sink's deliveries in state, in event order.
func (db *DB) Deliveries(ctx context.Context, sink, state string) ([]store.Delivery, error) {
	rows, err := db.r.QueryContext(ctx, db.q("SELECT "+deliveryCols+" FROM sink_deliveries WHERE sink = ? AND (? = '' OR state = ?) ORDER BY event_id"), sink, state, state)
	if err != nil {
		return nil, fmt.Errorf("store: deliveries to %s: %w", sink, err)
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("store: deliveries to %s: %w", sink, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
