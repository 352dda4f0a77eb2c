package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// PutInfraResource creates or replaces a resource row.
func (db *DB) PutInfraResource(ctx context.Context, r store.InfraResource) error {
	if err := required("infrastructure resource", "environment", r.Environment, "kind", r.Kind, "name", r.Name); err != nil {
		return err
	}
	switch r.Policy {
	case store.PolicyManage, store.PolicyObserve:
	default:
		return fmt.Errorf("%w: resource %s/%s in %s: policy %q is not %s or %s", store.ErrInvalid, r.Kind, r.Name, r.Environment, r.Policy, store.PolicyManage, store.PolicyObserve)
	}
	var args []any
	for _, j := range []struct {
		f string
		v []byte
	}{{"desired", r.Desired}, {"applied", r.Applied}, {"observed", r.Observed}, {"drift", r.Drift}} {
		a, err := jsonArg("resource "+j.f+" spec", j.v)
		if err != nil {
			return err
		}
		args = append(args, a)
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = db.now()
	}
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO infra_resources (environment, kind, name, desired, applied, observed, drift,
		applied_hash, observed_at, create_pending, protect, policy, drift_hash, drift_ack, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (environment, kind, name) DO UPDATE SET
		desired = excluded.desired, applied = excluded.applied, observed = excluded.observed, drift = excluded.drift,
		applied_hash = excluded.applied_hash, observed_at = excluded.observed_at, create_pending = excluded.create_pending,
		protect = excluded.protect, policy = excluded.policy, drift_hash = excluded.drift_hash, drift_ack = excluded.drift_ack,
		updated_at = excluded.updated_at`),
		append([]any{r.Environment, r.Kind, r.Name}, append(args, r.AppliedHash, db.tOrNull(r.ObservedAt), r.CreatePending,
			r.Protect, r.Policy, r.DriftHash, r.DriftAck, db.t(r.UpdatedAt))...)...)
	if err != nil {
		return fmt.Errorf("store: put resource %s/%s in %s: %w", r.Kind, r.Name, r.Environment, err)
	}
	return nil
}

// InfraResources lists env's resources by kind and name.
func (db *DB) InfraResources(ctx context.Context, env string) ([]store.InfraResource, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT environment, kind, name, desired, applied, observed, drift, applied_hash,
		observed_at, create_pending, protect, policy, drift_hash, drift_ack, updated_at FROM infra_resources
		WHERE environment = ? ORDER BY kind, name`), env)
	if err != nil {
		return nil, fmt.Errorf("store: resources of %s: %w", env, err)
	}
	defer rows.Close()
	var out []store.InfraResource
	for rows.Next() {
		var r store.InfraResource
		if err := rows.Scan(&r.Environment, &r.Kind, &r.Name, jsonCol{&r.Desired}, jsonCol{&r.Applied}, jsonCol{&r.Observed}, jsonCol{&r.Drift},
			&r.AppliedHash, timeCol{&r.ObservedAt}, boolCol{&r.CreatePending}, boolCol{&r.Protect}, &r.Policy, &r.DriftHash,
			&r.DriftAck, timeCol{&r.UpdatedAt}); err != nil {
			return nil, fmt.Errorf("store: resources of %s: %w", env, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteInfraResource removes a resource row.
func (db *DB) DeleteInfraResource(ctx context.Context, env, kind, name string) error {
	_, err := db.w.ExecContext(ctx, db.q(`DELETE FROM infra_resources WHERE environment = ? AND kind = ? AND name = ?`), env, kind, name)
	if err != nil {
		return fmt.Errorf("store: delete resource %s/%s in %s: %w", kind, name, env, err)
	}
	return nil
}

// CreateInfraPlan stores a pending plan with its audit entry.
func (db *DB) CreateInfraPlan(ctx context.Context, p store.InfraPlan, audit store.AuditEntry) (store.InfraPlan, error) {
	if err := required("plan", "environment", p.Environment, "hash", p.Hash, "created_by", p.CreatedBy); err != nil {
		return store.InfraPlan{}, err
	}
	body, err := jsonArg("plan body", p.Body)
	if err != nil {
		return store.InfraPlan{}, err
	}
	if body == nil {
		return store.InfraPlan{}, fmt.Errorf("%w: plan of %s has no body", store.ErrInvalid, p.Environment)
	}
	p.State, p.CreatedAt = store.PlanPending, Norm(p.CreatedAt)
	p.ApprovedBy, p.ApprovedAt, p.AppliedAt = "", time.Time{}, time.Time{}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO infra_plans (environment, hash, body, state, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`), p.Environment, p.Hash, body, p.State, p.CreatedBy, db.t(p.CreatedAt)).Scan(&p.ID); err != nil {
			return fmt.Errorf("store: create plan of %s: %w", p.Environment, err)
		}
		audit.Subject = fmt.Sprintf("plan/%d", p.ID)
		_, err := db.appendAudit(ctx, tx, audit)
		return err
	})
	if err != nil {
		return store.InfraPlan{}, err
	}
	return p, nil
}

// GetInfraPlan returns plan id.
func (db *DB) GetInfraPlan(ctx context.Context, id int64) (store.InfraPlan, error) {
	return db.getInfraPlan(ctx, db.r, id)
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (db *DB) getInfraPlan(ctx context.Context, q queryRower, id int64) (store.InfraPlan, error) {
	p := store.InfraPlan{ID: id}
	var approvals string
	err := q.QueryRowContext(ctx, db.q(`SELECT environment, hash, body, state, created_by, created_at, approved_by, approved_at, applied_at, approvals
		FROM infra_plans WHERE id = ?`), id).Scan(&p.Environment, &p.Hash, jsonCol{&p.Body}, &p.State, &p.CreatedBy, timeCol{&p.CreatedAt},
		&p.ApprovedBy, timeCol{&p.ApprovedAt}, timeCol{&p.AppliedAt}, &approvals)
	if errors.Is(err, sql.ErrNoRows) {
		return store.InfraPlan{}, fmt.Errorf("%w: plan %d", store.ErrNotFound, id)
	}
	if err != nil {
		return store.InfraPlan{}, fmt.Errorf("store: plan %d: %w", id, err)
	}
	if err := json.Unmarshal([]byte(approvals), &p.Approvals); err != nil {
		return store.InfraPlan{}, fmt.Errorf("store: plan %d: approvals %q: %w", id, approvals, err)
	}
	return p, nil
}

// ApproveInfraPlan approves a pending plan.
func (db *DB) ApproveInfraPlan(ctx context.Context, id int64, by string, need int, at time.Time, audit store.AuditEntry) (store.InfraPlan, error) {
	if err := required("plan approval", "approver", by); err != nil {
		return store.InfraPlan{}, err
	}
	var p store.InfraPlan
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if p, err = db.getInfraPlan(ctx, tx, id); err != nil {
			return err
		}
		switch p.State {
		case store.PlanApproved:
			return nil
		case store.PlanApplied:
			return fmt.Errorf("%w: plan %d was applied at %s; make a new plan", store.ErrConflict, id, p.AppliedAt.Format(time.RFC3339))
		}
		if slices.Contains(p.Approvals, by) {
			return nil
		}
		if _, err := db.appendAudit(ctx, tx, audit); err != nil {
			return err
		}
		was, _ := json.Marshal(p.Approvals)
		p.Approvals = append(p.Approvals, by)
		now, _ := json.Marshal(p.Approvals)
		var approvedAt any
		if len(p.Approvals) >= max(need, 1) {
			p.State, p.ApprovedBy, p.ApprovedAt = store.PlanApproved, strings.Join(p.Approvals, ", "), Norm(at)
			approvedAt = db.t(at)
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE infra_plans SET state = ?, approved_by = ?, approved_at = ?, approvals = ?
			WHERE id = ? AND state = ? AND approvals = ?`), p.State, p.ApprovedBy, approvedAt, string(now), id, store.PlanPending, string(was))
		if err != nil {
			return fmt.Errorf("store: approve plan %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: plan %d changed while being approved", store.ErrConflict, id)
		}
		return nil
	})
	if err != nil {
		return store.InfraPlan{}, err
	}
	return p, nil
}

// MarkInfraPlanApplied marks an approved plan applied.
func (db *DB) MarkInfraPlanApplied(ctx context.Context, id int64, at time.Time, audit store.AuditEntry) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.appendAudit(ctx, tx, audit); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`UPDATE infra_plans SET state = ?, applied_at = ? WHERE id = ? AND state = ?`),
			store.PlanApplied, db.t(at), id, store.PlanApproved)
		if err != nil {
			return fmt.Errorf("store: mark plan %d applied: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: plan %d is not approved (or is already applied)", store.ErrConflict, id)
		}
		return nil
	})
}
