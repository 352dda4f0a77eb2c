package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/belay-dev/belay/internal/store"
)

// CreateRelease stores r and returns it with its ID.
func (db *DB) CreateRelease(ctx context.Context, r store.Release) (store.Release, error) {
	if err := required("release", "service", r.Service, "version", r.Version, "owner", r.Owner); err != nil {
		return r, err
	}
	plan, err := jsonArg("release plan", r.Plan)
	if err != nil {
		return r, err
	}
	r.CreatedAt = Norm(r.CreatedAt)
	err = db.w.QueryRowContext(ctx, db.q(`INSERT INTO releases (service, version, owner, plan, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`), r.Service, r.Version, r.Owner, plan, db.t(r.CreatedAt)).Scan(&r.ID)
	if err != nil {
		return r, fmt.Errorf("store: create release of %s: %w", r.Version, err)
	}
	return r, nil
}

// GetRelease returns release id.
func (db *DB) GetRelease(ctx context.Context, id int64) (store.Release, error) {
	r := store.Release{ID: id}
	err := db.r.QueryRowContext(ctx, db.q("SELECT service, version, owner, plan, created_at FROM releases WHERE id = ?"), id).
		Scan(&r.Service, &r.Version, &r.Owner, jsonCol{&r.Plan}, timeCol{&r.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("%w: no release %d", store.ErrNotFound, id)
	}
	if err != nil {
		return r, fmt.Errorf("store: release %d: %w", id, err)
	}
	return r, nil
}
