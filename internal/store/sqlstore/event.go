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

// AppendEvent stores an event and returns its ID.
func (db *DB) AppendEvent(ctx context.Context, data json.RawMessage, at time.Time) (int64, error) {
	var id int64
	err := db.inTx(ctx, func(tx *sql.Tx) (err error) {
		id, err = db.appendEvent(ctx, tx, data, at)
		return err
	})
	return id, err
}

// appendEvent serialises appends with a lock held to commit: IDs come from
// a sequence, and without it a follower could read ID 7 committed before
// ID 6 and never see 6.
func (db *DB) appendEvent(ctx context.Context, tx *sql.Tx, data json.RawMessage, at time.Time) (int64, error) {
	if len(data) == 0 {
		return 0, fmt.Errorf("%w: an event needs data", store.ErrInvalid)
	}
	arg, err := jsonArg("event", data)
	if err != nil {
		return 0, err
	}
	if err := db.lock(ctx, tx, lockEvents); err != nil {
		return 0, fmt.Errorf("store: events lock: %w", err)
	}
	var id int64
	key := eventKey(data)
	if key != nil {
		// Under the lock, so no other append slips in between.
		err := tx.QueryRowContext(ctx, db.q("SELECT id FROM events WHERE event_key = ?"), *key).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("store: look up event %s: %w", *key, err)
		}
	}
	insert, args := "INSERT INTO events (at, data) VALUES (?, ?) RETURNING id", []any{db.t(at), arg}
	if key != nil {
		insert, args = "INSERT INTO events (at, data, event_key) VALUES (?, ?, ?) RETURNING id", append(args, *key)
	}
	err = tx.QueryRowContext(ctx, db.q(insert), args...).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: append event: %w", err)
	}
	return id, nil
}

// eventKey is the event's own "id" when its data is an object with a
// non-empty string "id", else nil (stored every time it is appended).
func eventKey(data json.RawMessage) *string {
	var e struct {
		ID json.RawMessage `json:"id"`
	}
	var id string
	if json.Unmarshal(data, &e) != nil || json.Unmarshal(e.ID, &id) != nil || id == "" {
		return nil
	}
	return &id
}

// EventsSince returns up to limit events after ID after, in order.
func (db *DB) EventsSince(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: events limit must be positive, not %d", store.ErrInvalid, limit)
	}
	rows, err := db.r.QueryContext(ctx, db.q("SELECT id, at, data FROM events WHERE id > ? ORDER BY id LIMIT ?"), after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: events since %d: %w", after, err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		if err := rows.Scan(&e.ID, timeCol{&e.At}, jsonCol{&e.Data}); err != nil {
			return nil, fmt.Errorf("store: events: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
