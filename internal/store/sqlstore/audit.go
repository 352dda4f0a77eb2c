package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/belay-dev/belay/internal/audit"
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

// appendAudit appends a in tx, with its leaf hash. An error fails the
// caller's whole change: belay makes no change it cannot audit.
func (db *DB) appendAudit(ctx context.Context, tx *sql.Tx, a store.AuditEntry) (int64, error) {
	if err := required("audit entry", "actor", a.Actor, "action", a.Action, "subject", a.Subject); err != nil {
		return 0, err
	}
	detail, err := jsonArg("audit detail", a.Detail)
	if err != nil {
		return 0, err
	}
	// Locked like events, so a follower of AuditSince never skips an entry;
	// and the ID is the largest plus one, never a sequence's (which skips
	// rolled-back values), so that a gap in IDs means a deleted entry.
	if err := db.lock(ctx, tx, lockAudit); err != nil {
		return 0, fmt.Errorf("store: audit lock: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM audit_entries`).Scan(&a.ID); err != nil {
		return 0, fmt.Errorf("store: append audit entry: %w", err)
	}
	a.At = Norm(a.At)
	leaf := audit.Leaf(a)
	_, err = tx.ExecContext(ctx, db.q(`INSERT INTO audit_entries (id, at, actor, action, subject, reason, detail, leaf)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), a.ID, db.t(a.At), a.Actor, a.Action, a.Subject, a.Reason, detail, leaf[:])
	if err != nil {
		return 0, fmt.Errorf("store: append audit entry: %w", err)
	}
	return a.ID, nil
}

// AuditSince returns up to limit audit entries after ID after, in order.
func (db *DB) AuditSince(ctx context.Context, after int64, limit int) ([]store.AuditEntry, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: audit limit must be positive, not %d", store.ErrInvalid, limit)
	}
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, at, actor, action, subject, reason, detail, leaf
		FROM audit_entries WHERE id > ? ORDER BY id LIMIT ?`), after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit since %d: %w", after, err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var a store.AuditEntry
		if err := rows.Scan(&a.ID, timeCol{&a.At}, &a.Actor, &a.Action, &a.Subject, &a.Reason, jsonCol{&a.Detail}, &a.Leaf); err != nil {
			return nil, fmt.Errorf("store: audit: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SealAudit fills in the leaf hash of entries appended before leaves were
// kept, while no checkpoint is stored: afterwards an entry without a leaf
// was tampered with, and sealing it would hide that.
func (db *DB) SealAudit(ctx context.Context) (int, error) {
	n := 0
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.lock(ctx, tx, lockAudit); err != nil {
			return fmt.Errorf("store: audit lock: %w", err)
		}
		var checkpoints int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_checkpoints`).Scan(&checkpoints); err != nil || checkpoints > 0 {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, at, actor, action, subject, reason, detail FROM audit_entries WHERE leaf IS NULL ORDER BY id`)
		if err != nil {
			return fmt.Errorf("store: seal audit: %w", err)
		}
		var es []store.AuditEntry
		for rows.Next() {
			var a store.AuditEntry
			if err := rows.Scan(&a.ID, timeCol{&a.At}, &a.Actor, &a.Action, &a.Subject, &a.Reason, jsonCol{&a.Detail}); err != nil {
				_ = rows.Close()
				return fmt.Errorf("store: seal audit: %w", err)
			}
			es = append(es, a)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("store: seal audit: %w", err)
		}
		for _, a := range es {
			leaf := audit.Leaf(a)
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE audit_entries SET leaf = ? WHERE id = ?`), leaf[:], a.ID); err != nil {
				return fmt.Errorf("store: seal audit entry %d: %w", a.ID, err)
			}
		}
		n = len(es)
		return nil
	})
	return n, err
}

// SaveCheckpoint stores a signed checkpoint of the audit log.
func (db *DB) SaveCheckpoint(ctx context.Context, c store.AuditCheckpoint) error {
	if c.Size < 0 || len(c.Root) != 32 || c.Note == "" {
		return fmt.Errorf("%w: an audit checkpoint needs a size, a 32-byte root and a note", store.ErrInvalid)
	}
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO audit_checkpoints (size, root, note, at) VALUES (?, ?, ?, ?)`),
		c.Size, c.Root, c.Note, db.t(c.At))
	if err != nil {
		return fmt.Errorf("store: save audit checkpoint: %w", err)
	}
	return nil
}

// LatestCheckpoint returns the audit checkpoint stored last, or ErrNotFound.
func (db *DB) LatestCheckpoint(ctx context.Context) (store.AuditCheckpoint, error) {
	var c store.AuditCheckpoint
	err := db.r.QueryRowContext(ctx, `SELECT size, root, note, at FROM audit_checkpoints ORDER BY id DESC LIMIT 1`).
		Scan(&c.Size, &c.Root, &c.Note, timeCol{&c.At})
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("%w: no audit checkpoint yet", store.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("store: latest audit checkpoint: %w", err)
	}
	return c, nil
}
