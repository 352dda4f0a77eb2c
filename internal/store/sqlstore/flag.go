package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/store"
)

// SetFlagOverride replaces the override of o's environment and flag, with
// its audit entry and events, in one transaction.
func (db *DB) SetFlagOverride(ctx context.Context, o store.FlagOverride, audit store.AuditEntry, evs []event.Event) error {
	if err := validFlagOverride(o); err != nil {
		return err
	}
	o.At = Norm(o.At)
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.flagEffects(ctx, tx, audit, evs, o.At); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO flag_overrides (environment, flag, state, variant, actor, reason, at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (environment, flag) DO UPDATE SET state = excluded.state,
			variant = excluded.variant, actor = excluded.actor, reason = excluded.reason, at = excluded.at`),
			o.Environment, o.Flag, o.State, o.Variant, o.Actor, o.Reason, db.t(o.At))
		if err != nil {
			return fmt.Errorf("store: override flag %s in %s: %w", o.Flag, o.Environment, err)
		}
		return nil
	})
}

func validFlagOverride(o store.FlagOverride) error {
	if err := required("flag override", "environment", o.Environment, "flag", o.Flag, "actor", o.Actor); err != nil {
		return err
	}
	switch o.State {
	case "", "ENABLED", "DISABLED":
	default:
		return fmt.Errorf("%w: flag override of %s in %s: state %q is not ENABLED, DISABLED or empty", store.ErrInvalid, o.Flag, o.Environment, o.State)
	}
	if o.State == "" && o.Variant == "" {
		return fmt.Errorf("%w: flag override of %s in %s changes neither state nor variant; clear it instead", store.ErrInvalid, o.Flag, o.Environment)
	}
	return nil
}

// ClearFlagOverride removes the override of flag in env, if any, with its
// audit entry and events, in one transaction.
func (db *DB) ClearFlagOverride(ctx context.Context, env, flag string, audit store.AuditEntry, evs []event.Event) error {
	if err := required("flag override", "environment", env, "flag", flag); err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.flagEffects(ctx, tx, audit, evs, audit.At); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM flag_overrides WHERE environment = ? AND flag = ?`), env, flag); err != nil {
			return fmt.Errorf("store: clear override of flag %s in %s: %w", flag, env, err)
		}
		return nil
	})
}

// flagEffects writes a flag change's audit entry and events first, in the
// lock order every writer keeps (audit, events), before the override row.
func (db *DB) flagEffects(ctx context.Context, tx *sql.Tx, audit store.AuditEntry, evs []event.Event, at time.Time) error {
	if _, err := db.appendAudit(ctx, tx, audit); err != nil {
		return err
	}
	for i, e := range evs {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("%w: event %d of %d: %v", store.ErrInvalid, i+1, len(evs), err)
		}
		if _, err := db.appendEvent(ctx, tx, b, at); err != nil {
			return fmt.Errorf("event %d of %d: %w", i+1, len(evs), err)
		}
	}
	return nil
}

// FlagOverrides lists the overrides of env (every environment when env is
// empty), by environment and flag in byte order (sorted here: PostgreSQL's
// collation may not be).
func (db *DB) FlagOverrides(ctx context.Context, env string) ([]store.FlagOverride, error) {
	query, args := `SELECT environment, flag, state, variant, actor, reason, at FROM flag_overrides`, []any{}
	if env != "" {
		query, args = query+` WHERE environment = ?`, append(args, env)
	}
	rows, err := db.r.QueryContext(ctx, db.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store: flag overrides: %w", err)
	}
	defer rows.Close()
	var out []store.FlagOverride
	for rows.Next() {
		var o store.FlagOverride
		if err := rows.Scan(&o.Environment, &o.Flag, &o.State, &o.Variant, &o.Actor, &o.Reason, timeCol{&o.At}); err != nil {
			return nil, fmt.Errorf("store: flag overrides: %w", err)
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b store.FlagOverride) int {
		return cmp.Or(strings.Compare(a.Environment, b.Environment), strings.Compare(a.Flag, b.Flag))
	})
	return out, rows.Err()
}
