package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// AcquireLease takes, renews or reports lease name for holder.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, at time.Time) (store.Lease, bool, error) {
	if err := required("lease", "name", name, "holder", holder); err != nil {
		return store.Lease{}, false, err
	}
	if ttl <= 0 {
		return store.Lease{}, false, fmt.Errorf("%w: lease %s for %s: time to live %s is not positive", store.ErrInvalid, name, holder, ttl)
	}
	at = Norm(at)
	var l store.Lease
	held := false
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.lock(ctx, tx, lockLeases); err != nil {
			return fmt.Errorf("store: lease %s: %w", name, err)
		}
		l = store.Lease{Name: name}
		err := tx.QueryRowContext(ctx, db.q("SELECT holder, epoch, acquired_at, expires_at FROM leases WHERE name = ?"), name).
			Scan(&l.Holder, &l.Epoch, timeCol{&l.AcquiredAt}, timeCol{&l.ExpiresAt})
		switch {
		case errors.Is(err, sql.ErrNoRows):
			l = store.Lease{Name: name, Holder: holder, Epoch: 1, AcquiredAt: at, ExpiresAt: Norm(at.Add(ttl))}
			held = true
			_, err = tx.ExecContext(ctx, db.q("INSERT INTO leases (name, holder, epoch, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?)"),
				name, holder, l.Epoch, db.t(l.AcquiredAt), db.t(l.ExpiresAt))
		case err != nil:
		case l.Holder == holder:
			l.ExpiresAt, held = Norm(at.Add(ttl)), true
			_, err = tx.ExecContext(ctx, db.q("UPDATE leases SET expires_at = ? WHERE name = ?"), db.t(l.ExpiresAt), name)
		case !at.Before(l.ExpiresAt):
			l = store.Lease{Name: name, Holder: holder, Epoch: l.Epoch + 1, AcquiredAt: at, ExpiresAt: Norm(at.Add(ttl))}
			held = true
			_, err = tx.ExecContext(ctx, db.q("UPDATE leases SET holder = ?, epoch = ?, acquired_at = ?, expires_at = ? WHERE name = ?"),
				holder, l.Epoch, db.t(l.AcquiredAt), db.t(l.ExpiresAt), name)
		}
		if err != nil {
			return fmt.Errorf("store: lease %s for %s: %w", name, holder, err)
		}
		return nil
	})
	if err != nil {
		return store.Lease{}, false, err
	}
	return l, held, nil
}

// ReleaseLease ends holder's lease on name.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := required("lease", "name", name, "holder", holder); err != nil {
		return err
	}
	// Expire rather than delete: the epoch keeps counting holders.
	_, err := db.w.ExecContext(ctx, db.q("UPDATE leases SET expires_at = acquired_at WHERE name = ? AND holder = ?"), name, holder)
	if err != nil {
		return fmt.Errorf("store: release lease %s of %s: %w", name, holder, err)
	}
	return nil
}
