package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

func sloBucket(t time.Time) int64 { return t.UTC().Truncate(store.SLOBucket).Unix() }

// AddSLOSample adds s to its minute's bucket.
func (db *DB) AddSLOSample(ctx context.Context, s store.SLOSample) error {
	if err := required("slo sample", "environment", s.Environment, "service", s.Service); err != nil {
		return err
	}
	if s.Requests < 0 || s.Errors < 0 || s.Errors > s.Requests {
		return fmt.Errorf("%w: slo sample of %s in %s: %d requests and %d errors: counts are increases, errors at most requests",
			store.ErrInvalid, s.Service, s.Environment, s.Requests, s.Errors)
	}
	_, err := db.w.ExecContext(ctx, db.q(`INSERT INTO slo_samples (environment, service, bucket, requests, errors) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (environment, service, bucket) DO UPDATE SET requests = slo_samples.requests + excluded.requests,
		errors = slo_samples.errors + excluded.errors`),
		s.Environment, s.Service, sloBucket(s.At), s.Requests, s.Errors)
	if err != nil {
		return fmt.Errorf("store: add slo sample of %s in %s: %w", s.Service, s.Environment, err)
	}
	return nil
}

// SLOCounts sums the buckets from since's onwards.
func (db *DB) SLOCounts(ctx context.Context, environment, service string, since time.Time) (int64, int64, bool, error) {
	var n int64
	var req, errs sql.NullInt64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT COUNT(*), CAST(SUM(requests) AS BIGINT), CAST(SUM(errors) AS BIGINT) FROM slo_samples
		WHERE environment = ? AND service = ? AND bucket >= ?`), environment, service, sloBucket(since)).Scan(&n, &req, &errs)
	if err != nil {
		return 0, 0, false, fmt.Errorf("store: slo counts of %s in %s: %w", service, environment, err)
	}
	return req.Int64, errs.Int64, n > 0, nil
}

// PruneSLOSamples removes the buckets before the one holding before.
func (db *DB) PruneSLOSamples(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, db.q("DELETE FROM slo_samples WHERE bucket < ?"), sloBucket(before))
	if err != nil {
		return 0, fmt.Errorf("store: prune slo samples: %w", err)
	}
	return res.RowsAffected()
}
