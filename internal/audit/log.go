package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/belay-dev/belay/internal/store"
)

// Log is what checking and sealing the audit log need of a store.
type Log interface {
	AuditSince(ctx context.Context, after int64, limit int) ([]store.AuditEntry, error)
	SaveCheckpoint(ctx context.Context, c store.AuditCheckpoint) error
	LatestCheckpoint(ctx context.Context) (store.AuditCheckpoint, error)
}

var _ Log = store.Store(nil)

// page is how many entries Entries reads at a time.
const page = 10000

// Entries reads the whole log, in ID order.
func Entries(ctx context.Context, l Log) ([]store.AuditEntry, error) {
	var all []store.AuditEntry
	for after := int64(0); ; {
		es, err := l.AuditSince(ctx, after, page)
		if err != nil {
			return nil, err
		}
		all = append(all, es...)
		if len(es) < page {
			return all, nil
		}
		after = es[len(es)-1].ID
	}
}

// Check verifies the whole log against the checkpoint stored last (whose
// signature by v is checked too) and against notes, checkpoints saved
// elsewhere. A note that v did not sign is an ErrCheckpoint error, not a
// problem of the log.
func Check(ctx context.Context, l Log, v note.Verifier, notes ...string) (Checkpoint, []Problem, error) {
	var cps []Checkpoint
	for _, n := range notes {
		c, err := Open(n, v)
		if err != nil {
			return Checkpoint{}, nil, err
		}
		cps = append(cps, c)
	}
	var forged []Problem
	latest, err := l.LatestCheckpoint(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return Checkpoint{}, nil, err
	default:
		c, err := Open(latest.Note, v)
		if err != nil {
			forged = append(forged, Problem{Position: latest.Size, Kind: Forged, Message: fmt.Sprintf(
				"the checkpoint stored at %s is not signed by this server's audit key: it was forged or replaced", latest.At.Format(time.RFC3339))})
			break
		}
		cps = append(cps, c)
	}
	es, err := Entries(ctx, l)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	c, probs := Verify(es, cps...)
	return c, append(probs, forged...), nil
}

// ErrTampered is a log that fails verification, which the server will not
// sign a checkpoint of.
var ErrTampered = errors.New("audit log fails verification")

// Seal signs and stores a checkpoint of the log as it is now, after
// checking it: a checkpoint of a tampered log would vouch for the tampering.
func Seal(ctx context.Context, l Log, k *Key, now time.Time) (store.AuditCheckpoint, error) {
	c, probs, err := Check(ctx, l, k.Verifier)
	if err != nil {
		return store.AuditCheckpoint{}, err
	}
	if len(probs) > 0 {
		return store.AuditCheckpoint{}, fmt.Errorf("%w: %s (belay audit verify lists every problem)", ErrTampered, probs[0].Message)
	}
	text, err := Sign(c, k.Signer)
	if err != nil {
		return store.AuditCheckpoint{}, err
	}
	sc := store.AuditCheckpoint{Size: c.Size, Root: c.Root[:], Note: text, At: now}
	return sc, l.SaveCheckpoint(ctx, sc)
}
