package sqlstore

import (
	"context"
	"fmt"

	"github.com/belay-dev/belay/internal/store"
)

// RecordCIRun stores a ci run with its evidence.
func (db *DB) RecordCIRun(ctx context.Context, r store.CIRun) (store.CIRun, error) {
	if err := required("ci run", "commit", r.Commit, "stage", r.Stage); err != nil {
		return r, err
	}
	switch r.Status {
	case store.CIPassed, store.CIBlocked, store.CIPromotionBlocked:
	default:
		return r, fmt.Errorf("%w: ci run status %q", store.ErrInvalid, r.Status)
	}
	ev, err := jsonArg("ci evidence", r.Evidence)
	if err != nil {
		return r, err
	}
	r.CreatedAt = Norm(r.CreatedAt)
	err = db.w.QueryRowContext(ctx, db.q(`INSERT INTO ci_runs (commit_sha, stage, status, evidence, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`), r.Commit, r.Stage, r.Status, ev, db.t(r.CreatedAt)).Scan(&r.ID)
	if err != nil {
		return r, fmt.Errorf("store: record ci run of %s: %w", r.Commit, err)
	}
	return r, nil
}

// CIRunsOf lists a commit's ci runs, oldest first.
func (db *DB) CIRunsOf(ctx context.Context, commit string) ([]store.CIRun, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT id, commit_sha, stage, status, evidence, created_at FROM ci_runs
		WHERE commit_sha = ? ORDER BY id`), commit)
	if err != nil {
		return nil, fmt.Errorf("store: ci runs of %s: %w", commit, err)
	}
	defer rows.Close()
	var out []store.CIRun
	for rows.Next() {
		var r store.CIRun
		if err := rows.Scan(&r.ID, &r.Commit, &r.Stage, &r.Status, jsonCol{&r.Evidence}, timeCol{&r.CreatedAt}); err != nil {
			return nil, fmt.Errorf("store: ci runs of %s: %w", commit, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
