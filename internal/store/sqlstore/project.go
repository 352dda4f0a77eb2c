package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/belay-dev/belay/internal/store"
)

// SaveProject records p as the latest validated project.
func (db *DB) SaveProject(ctx context.Context, p store.Project) error {
	if err := required("project", "name", p.Name, "spec digest", p.SpecDigest); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, db.q(`INSERT INTO projects (name, spec_digest, validated_at)
			VALUES (?, ?, ?) RETURNING id`), p.Name, p.SpecDigest, db.t(p.ValidatedAt)).Scan(&id)
		if err != nil {
			return fmt.Errorf("store: save project %s: %w", p.Name, err)
		}
		for i, s := range p.Services {
			if err := db.projectRow(ctx, tx, "project_services", id, i, s.Name); err != nil {
				return err
			}
		}
		for i, e := range p.Environments {
			if err := db.projectRow(ctx, tx, "project_environments", id, i, e); err != nil {
				return err
			}
		}
		return nil
	})
}

func (db *DB) projectRow(ctx context.Context, tx *sql.Tx, table string, id int64, pos int, name string) error {
	if name == "" {
		return fmt.Errorf("%w: project: %s[%d] has no name", store.ErrInvalid, table, pos)
	}
	_, err := tx.ExecContext(ctx, db.q("INSERT INTO "+table+" (project_id, position, name) VALUES (?, ?, ?)"), id, pos, name)
	if db.d.IsUnique(err) {
		return fmt.Errorf("%w: project: %s %q appears twice", store.ErrInvalid, table, name)
	}
	return err
}

// LastProject returns the most recently saved project.
func (db *DB) LastProject(ctx context.Context) (store.Project, error) {
	var p store.Project
	var id int64
	err := db.r.QueryRowContext(ctx, `SELECT id, name, spec_digest, validated_at FROM projects
		ORDER BY id DESC LIMIT 1`).Scan(&id, &p.Name, &p.SpecDigest, timeCol{&p.ValidatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("%w: no project validated yet: run belay validate", store.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("store: last project: %w", err)
	}
	names, err := db.names(ctx, "project_services", id)
	if err != nil {
		return p, err
	}
	for _, n := range names {
		p.Services = append(p.Services, store.Service{Name: n})
	}
	p.Environments, err = db.names(ctx, "project_environments", id)
	return p, err
}

func (db *DB) names(ctx context.Context, table string, id int64) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, db.q("SELECT name FROM "+table+" WHERE project_id = ? ORDER BY position"), id)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
