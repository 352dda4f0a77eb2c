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

const tokenCols = "id, name, role, environments, hash, created_by, created_at, expires_at, revoked_at, revoked_by"

func scanToken(row interface{ Scan(...any) error }) (store.Token, error) {
	var t store.Token
	var envs json.RawMessage
	err := row.Scan(&t.ID, &t.Name, &t.Role, jsonCol{&envs}, &t.Hash, &t.CreatedBy, timeCol{&t.Created},
		timeCol{&t.Expires}, timeCol{&t.Revoked}, &t.RevokedBy)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(envs, &t.Environments); err != nil {
		return t, fmt.Errorf("bad stored environments of token %d: %w", t.ID, err)
	}
	if len(t.Environments) == 0 {
		t.Environments = nil // empty is every environment, however it was given
	}
	return t, nil
}

// tokenDetail is a created token's audit detail: what it grants, never its hash.
type tokenDetail struct {
	Name         string     `json:"name"`
	Role         string     `json:"role"`
	Environments []string   `json:"environments"`
	Expires      *time.Time `json:"expires"` // null: never
}

// CreateToken stores t and its audit entry in one transaction.
func (db *DB) CreateToken(ctx context.Context, t store.Token, reason string) (store.Token, error) {
	if err := validToken(t); err != nil {
		return t, err
	}
	t.Created, t.Expires = Norm(t.Created), Norm(t.Expires)
	if len(t.Environments) == 0 {
		t.Environments = nil
	}
	d := tokenDetail{Name: t.Name, Role: t.Role, Environments: append([]string{}, t.Environments...)}
	if !t.Expires.IsZero() {
		d.Expires = &t.Expires
	}
	envs, _ := json.Marshal(d.Environments) // strings always marshal
	detail, _ := json.Marshal(d)
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.tokenConflict(ctx, tx, t); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, db.q(`INSERT INTO tokens (name, role, environments, hash, created_by, created_at,
			expires_at, revoked_by) VALUES (?, ?, ?, ?, ?, ?, ?, '') RETURNING id`),
			t.Name, t.Role, string(envs), t.Hash, t.CreatedBy, db.t(t.Created), db.tOrNull(t.Expires)).Scan(&t.ID)
		if db.d.IsUnique(err) {
			return errTokenRace
		}
		if err != nil {
			return fmt.Errorf("store: create token %q: %w", t.Name, err)
		}
		_, err = db.appendAudit(ctx, tx, store.AuditEntry{At: t.Created, Actor: t.CreatedBy, Action: "token.create",
			Subject: tokenSubject(t.ID), Reason: reason, Detail: detail})
		return err
	})
	if errors.Is(err, errTokenRace) {
		// Another writer stored the name or the hash after our check; now
		// that it committed, name it.
		if err = db.tokenConflict(ctx, db.r, t); err == nil {
			err = fmt.Errorf("%w: token %q: its name or hash was stored concurrently; list the tokens and retry",
				store.ErrConflict, t.Name)
		}
	}
	if err != nil {
		t.ID = 0 // rolled back
		return t, err
	}
	return t, nil
}

var errTokenRace = errors.New("token stored concurrently")

func validToken(t store.Token) error {
	if err := required("token", "name", t.Name, "role", t.Role, "creator", t.CreatedBy); err != nil {
		return err
	}
	if len(t.Hash) != 32 {
		return fmt.Errorf("%w: token %q needs a 32-byte SHA-256 hash, not %d bytes", store.ErrInvalid, t.Name, len(t.Hash))
	}
	for _, e := range t.Environments {
		if e == "" {
			return fmt.Errorf("%w: token %q names an empty environment; leave the list empty for every environment",
				store.ErrInvalid, t.Name)
		}
	}
	if !t.Revoked.IsZero() || t.RevokedBy != "" {
		return fmt.Errorf("%w: token %q cannot be created revoked; create it, then revoke it", store.ErrInvalid, t.Name)
	}
	return nil
}

// tokenConflict explains why t cannot be stored: a live token with its
// name, or any token with its hash.
func (db *DB) tokenConflict(ctx context.Context, q querier, t store.Token) error {
	var id int64
	err := q.QueryRowContext(ctx, db.q("SELECT id FROM tokens WHERE name = ? AND revoked_at IS NULL"), t.Name).Scan(&id)
	if err == nil {
		return fmt.Errorf("%w: token name %q is used by token %d, which is not revoked; revoke it or choose another name",
			store.ErrConflict, t.Name, id)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: tokens named %q: %w", t.Name, err)
	}
	var name string
	err = q.QueryRowContext(ctx, db.q("SELECT id, name FROM tokens WHERE hash = ?"), t.Hash).Scan(&id, &name)
	if err == nil {
		return fmt.Errorf("%w: token %q: its hash is already stored for token %d (%q); generate a new secret",
			store.ErrConflict, t.Name, id, name)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: token hash: %w", err)
	}
	return nil
}

func tokenSubject(id int64) string { return fmt.Sprintf("token/%d", id) }

// TokenByHash returns the token with this hash, revoked and expired ones too.
func (db *DB) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	t, err := scanToken(db.r.QueryRowContext(ctx, db.q("SELECT "+tokenCols+" FROM tokens WHERE hash = ?"), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("%w: no token with this hash", store.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("store: token by hash: %w", err)
	}
	return t, nil
}

// TokenByName returns the newest token named name. A live token is always
// the newest of its name: no token of that name can be created while it lives.
func (db *DB) TokenByName(ctx context.Context, name string) (store.Token, error) {
	t, err := scanToken(db.r.QueryRowContext(ctx, db.q("SELECT "+tokenCols+` FROM tokens WHERE name = ?
		ORDER BY id DESC LIMIT 1`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("%w: no token named %q", store.ErrNotFound, name)
	}
	if err != nil {
		return t, fmt.Errorf("store: token %q: %w", name, err)
	}
	return t, nil
}

// ListTokens returns every token in the order they were created.
func (db *DB) ListTokens(ctx context.Context) ([]store.Token, error) {
	rows, err := db.r.QueryContext(ctx, "SELECT "+tokenCols+" FROM tokens ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("store: tokens: %w", err)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store: tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken marks token id revoked with its audit entry; a token already
// revoked is returned unchanged, without a second entry.
func (db *DB) RevokeToken(ctx context.Context, id int64, by, reason string, at time.Time) (store.Token, error) {
	if err := required("token revocation", "revoker", by); err != nil {
		return store.Token{}, err
	}
	if at.IsZero() {
		// A zero time would read back as "not revoked".
		return store.Token{}, fmt.Errorf("%w: revoking token %d needs a time", store.ErrInvalid, id)
	}
	var t store.Token
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		// Update first: a concurrent revocation waits on the row, then changes nothing.
		res, err := tx.ExecContext(ctx, db.q(`UPDATE tokens SET revoked_at = ?, revoked_by = ?
			WHERE id = ? AND revoked_at IS NULL`), db.t(at), by, id)
		if err != nil {
			return fmt.Errorf("store: revoke token %d: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("store: revoke token %d: %w", id, err)
		}
		t, err = scanToken(tx.QueryRowContext(ctx, db.q("SELECT "+tokenCols+" FROM tokens WHERE id = ?"), id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no token %d to revoke", store.ErrNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("store: token %d: %w", id, err)
		}
		if n == 0 {
			return nil // already revoked: nothing to audit
		}
		detail, _ := json.Marshal(struct {
			Name string `json:"name"`
		}{t.Name})
		_, err = db.appendAudit(ctx, tx, store.AuditEntry{At: at, Actor: by, Action: "token.revoke",
			Subject: tokenSubject(id), Reason: reason, Detail: detail})
		return err
	})
	if err != nil {
		return store.Token{}, err
	}
	return t, nil
}
