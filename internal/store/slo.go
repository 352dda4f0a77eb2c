package store

import (
	"context"
	"time"
)

// SLOBucket is the resolution of SLO samples: increases are added to the
// bucket holding their time, so a window is read to within one bucket.
const SLOBucket = time.Minute

// SLOSample is the increase of a service's answered requests and errors
// (5xx and proxy errors) in an environment, over the sampling interval that
// ended at At, summed over versions.
type SLOSample struct {
	Environment string
	Service     string
	At          time.Time
	Requests    int64
	Errors      int64
}

// SLOSamples keeps the samples the builtin SLO source reads windows from, so
// that windows up to the SLO window survive a restart of the server.
type SLOSamples interface {
	// AddSLOSample adds s to the bucket of s.At (At truncated to SLOBucket);
	// negative counts or more errors than requests are ErrInvalid.
	AddSLOSample(ctx context.Context, s SLOSample) error
	// SLOCounts sums the buckets of a service in an environment from the one
	// holding since onwards; ok is false when there is none.
	SLOCounts(ctx context.Context, environment, service string, since time.Time) (requests, errors int64, ok bool, err error)
	// PruneSLOSamples removes the buckets before the one holding before and
	// returns how many.
	PruneSLOSamples(ctx context.Context, before time.Time) (int64, error)
}
