package store

import "errors"

// Errors the store reports, wrapped with fmt.Errorf("%w: …"); check them with
// errors.Is.
var (
	// ErrNotFound: no such artifact, release, rollout, queue entry, stable
	// version, analysis state or token.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change contradicts what is stored (a version re-pointed
	// to other bytes, a second active rollout, a stale expected seq).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the caller passed something the store cannot keep
	// (a missing name, JSON that does not parse).
	ErrInvalid = errors.New("invalid")
	// ErrSchemaTooNew: the database was migrated by a newer belay.
	ErrSchemaTooNew = errors.New("state database schema is newer than this belay")
)
