package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/belay-dev/belay/internal/store"
)

const artifactCols = "digest, version, service, commit_sha, built_at, signer_key_id, dirty, store_ref, committed_at"

func scanArtifact(row interface{ Scan(...any) error }) (store.Artifact, error) {
	var a store.Artifact
	err := row.Scan(&a.Digest, &a.Version, &a.Service, &a.Commit, timeCol{&a.BuiltAt},
		&a.SignerKeyID, boolCol{&a.Dirty}, &a.StoreRef, timeCol{&a.CommittedAt})
	return a, err
}

// RecordArtifact stores a; a version is bound to one digest forever.
func (db *DB) RecordArtifact(ctx context.Context, a store.Artifact) error {
	if err := required("artifact", "version", a.Version, "digest", a.Digest, "service", a.Service); err != nil {
		return err
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.sameArtifact(ctx, tx, a); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q("INSERT INTO artifacts ("+artifactCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
			a.Digest, a.Version, a.Service, a.Commit, db.t(a.BuiltAt), a.SignerKeyID, a.Dirty, a.StoreRef, db.tOrNull(a.CommittedAt))
		if db.d.IsUnique(err) {
			return errArtifactRace
		}
		if err != nil {
			return fmt.Errorf("store: record artifact %s: %w", a.Version, err)
		}
		return nil
	})
	if errors.Is(err, errArtifactRace) {
		// Recorded by someone else since we looked: decide on what they wrote.
		err = db.sameArtifact(ctx, db.r, a)
	}
	return err
}

var errArtifactRace = errors.New("artifact recorded concurrently")

// sameArtifact is nil when a's version is recorded with a's digest,
// ErrConflict when with another, and ErrNotFound when not recorded.
func (db *DB) sameArtifact(ctx context.Context, q querier, a store.Artifact) error {
	old, err := scanArtifact(q.QueryRowContext(ctx, db.q("SELECT "+artifactCols+" FROM artifacts WHERE version = ?"), a.Version))
	switch {
	case err == nil && old.Digest == a.Digest:
		return nil
	case err == nil:
		return fmt.Errorf("%w: version %s is already recorded as %s; refusing to re-point it to %s",
			store.ErrConflict, a.Version, old.Digest, a.Digest)
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	}
	return fmt.Errorf("store: artifact %s: %w", a.Version, err)
}

// GetArtifact finds an artifact by version or digest; a digest shared by
// several versions gives the earliest built.
func (db *DB) GetArtifact(ctx context.Context, ref string) (store.Artifact, error) {
	col := "version"
	if store.IsDigest(ref) {
		col = "digest"
	}
	a, err := scanArtifact(db.r.QueryRowContext(ctx,
		db.q("SELECT "+artifactCols+" FROM artifacts WHERE "+col+" = ? ORDER BY built_at, version LIMIT 1"), ref))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("%w: no artifact with %s %s: see belay artifacts list", store.ErrNotFound, col, ref)
	}
	if err != nil {
		return a, fmt.Errorf("store: artifact %s: %w", ref, err)
	}
	return a, nil
}

// ListArtifacts lists artifacts newest build first.
func (db *DB) ListArtifacts(ctx context.Context, service string) ([]store.Artifact, error) {
	rows, err := db.r.QueryContext(ctx, db.q("SELECT "+artifactCols+" FROM artifacts WHERE (? = '' OR service = ?) ORDER BY built_at DESC, version DESC"), service, service)
	if err != nil {
		return nil, fmt.Errorf("store: list artifacts: %w", err)
	}
	defer rows.Close()
	var out []store.Artifact
	for rows.Next() {
		a, err := scanArtifact(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list artifacts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
