package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/belay-dev/belay/internal/store"
)

// AppendAudit stores an audit entry and returns its ID.
func (db *DB) AppendAudit(ctx context.Context, a store.AuditEntry) (int64, error) {
	var id int64
	err := db.inTx(ctx, func(tx *sql.Tx) (err error) {
		id, err = db.appendAudit(ctx, tx, a)
		return err
	})
	return id, err
}

func (db *DB) appendAudit(ctx context.Context, tx *sql.Tx, a store.AuditEntry) (int64, error) {
	if err := required("audit entry", "actor", a.Actor, "action", a.Action, "subject", a.Subject); err != nil {
		return 0, err
	}
	detail, err := jsonArg("audit detail", a.Detail)
	if err != nil {
		return 0, err
	}
	// Locked like events, so a follower of AuditSince never skips an entry.
	if err := db.lock(ctx, tx, lockAudit); err != nil {
		return 0, fmt.Errorf("store: audit lock: %w", err)
	}
	var id int64
	err = tx.QueryRowContext(ctx, db.q(`INSERT INTO audit_entries (at, actor, action, subject, reason, detail)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`), db.t(a.At), a.Actor, a.Action, a.Subject, a.Reason, detail).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: append audit entry: %w", err)
	}
	return id, nil
}

// AuditSince returns up to limit audit entries after ID after, in order.
func (db *DB) AuditSince(ctx context.Context, after int64, limit int) ([]store.AuditEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: audit limit must be positive, not %d", store.ErrInvalid, limit)
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, at, actor, action, subject, reason, detail
		FROM audit_entries WHERE id > ? ORDER BY id LIMIT ?`), after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit since %d: %w", after, err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var a store.AuditEntry
		if err := rows.Scan(&a.ID, timeCol{&a.At}, &a.Actor, &a.Action, &a.Subject, &a.Reason, jsonCol{&a.Detail}); err != nil {
			return nil, fmt.Errorf("store: audit: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
