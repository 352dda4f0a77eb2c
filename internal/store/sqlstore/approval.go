package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/belay-dev/belay/internal/store"
)

var errApprovalRace = errors.New("approval recorded concurrently")

// Approve records an approval and its audit entry.
func (db *DB) Approve(ctx context.Context, a store.Approval) error {
	if err := required("approval", "environment", a.Environment, "actor", a.Actor); err != nil {
		return err
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var releases, n int
		err := tx.QueryRowContext(ctx, db.q(`SELECT (SELECT COUNT(*) FROM releases WHERE id = ?),
			(SELECT COUNT(*) FROM approvals WHERE release_id = ? AND environment = ? AND actor = ?)`),
			a.ReleaseID, a.ReleaseID, a.Environment, a.Actor).Scan(&releases, &n)
		if err != nil {
			return fmt.Errorf("store: approval of release %d: %w", a.ReleaseID, err)
		}
		if releases == 0 {
			return fmt.Errorf("%w: no release %d to approve", store.ErrNotFound, a.ReleaseID)
		}
		if n > 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, db.q(`INSERT INTO approvals (release_id, environment, actor, reason, at)
			VALUES (?, ?, ?, ?, ?)`), a.ReleaseID, a.Environment, a.Actor, a.Reason, db.t(a.At))
		if db.d.IsUnique(err) {
			return errApprovalRace
		}
		if err != nil {
			return fmt.Errorf("store: approve release %d in %s: %w", a.ReleaseID, a.Environment, err)
		}
		_, err = db.appendAudit(ctx, tx, store.AuditEntry{At: a.At, Actor: a.Actor, Action: "approve",
			Subject: fmt.Sprintf("release/%d/%s", a.ReleaseID, a.Environment), Reason: a.Reason})
		return err
	})
	if errors.Is(err, errApprovalRace) {
		return nil // the same approval won the race: nothing left to do
	}
	return err
}

// Approvals lists a release's approvals in env, oldest first.
func (db *DB) Approvals(ctx context.Context, releaseID int64, env string) ([]store.Approval, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT release_id, environment, actor, reason, at FROM approvals
		WHERE release_id = ? AND environment = ? ORDER BY at, actor`), releaseID, env)
	if err != nil {
		return nil, fmt.Errorf("store: approvals of release %d: %w", releaseID, err)
	}
	defer rows.Close()
	var out []store.Approval
	for rows.Next() {
		var a store.Approval
		if err := rows.Scan(&a.ReleaseID, &a.Environment, &a.Actor, &a.Reason, timeCol{&a.At}); err != nil {
			return nil, fmt.Errorf("store: approvals: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
