package storetest

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/audit"
	"github.com/belay-dev/belay/internal/store"
)

// appendFive appends entries 1–5 (subject release/N, reason "reason N").
func appendFive(t *testing.T, s store.Store) {
	for i := 1; i <= 5; i++ {
		a := store.AuditEntry{At: at, Actor: "carol", Action: "approve", Subject: fmt.Sprintf("release/%d", i),
			Reason: fmt.Sprintf("reason %d", i), Detail: []byte(`{"env": "prod"}`)}
		if id := must(s.AppendAudit(ctx(t), a)); id != int64(i) {
			t.Fatalf("entry %d got ID %d: IDs must start at 1 and not skip", i, id)
		}
	}
}

// testAuditLog: every entry is stored with its leaf, checkpoints are kept
// and the latest returned, and the log verifies.
func testAuditLog(t *testing.T, s store.Store) {
	if _, err := s.LatestCheckpoint(ctx(t)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LatestCheckpoint of a new store: %v, want ErrNotFound", err)
	}
	appendFive(t, s)
	for _, e := range must(s.AuditSince(ctx(t), 0, 10)) {
		if l := audit.Leaf(e); !bytes.Equal(e.Leaf, l[:]) {
			t.Errorf("entry %d: stored leaf %x, recomputed %x", e.ID, e.Leaf, l)
		}
	}
	if n := must(s.SealAudit(ctx(t))); n != 0 {
		t.Errorf("SealAudit filled %d leaves of entries stored with theirs", n)
	}
	k := must(audit.LoadKey(t.TempDir()))
	first := must(audit.Seal(ctx(t), s, k, at))
	if first.Size != 5 {
		t.Errorf("checkpoint size %d, want 5", first.Size)
	}
	must(s.AppendAudit(ctx(t), store.AuditEntry{At: at, Actor: "dave", Action: "token.create", Subject: "token/1"}))
	second := must(audit.Seal(ctx(t), s, k, at))
	if got := must(s.LatestCheckpoint(ctx(t))); got.Size != 6 || got.Note != second.Note || !got.At.Equal(norm(at)) {
		t.Errorf("LatestCheckpoint = %+v, want %+v", got, second)
	}
	if _, probs, err := audit.Check(ctx(t), s, k.Verifier, first.Note); err != nil || len(probs) > 0 {
		t.Errorf("Check against the first checkpoint: %v, %v", probs, err)
	}
	if err := s.SaveCheckpoint(ctx(t), store.AuditCheckpoint{Size: 1, Root: []byte("short"), Note: "x", At: at}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("SaveCheckpoint of a bad root: %v, want ErrInvalid", err)
	}
}

// TamperOpener returns a fresh store and a plain connection to its database.
type TamperOpener func(t *testing.T) (store.Store, *sql.DB)

// AuditTamper tampers with the audit log of a real database behind the
// store's back, as someone with access to the database could, and checks
// that verification fails each time naming the entry and the kind.
func AuditTamper(t *testing.T, open TamperOpener) {
	tests := []struct {
		name string
		sql  []string
		want audit.Problem
	}{
		{"Edit", []string{`UPDATE audit_entries SET reason = 'nothing to see' WHERE id = 3`},
			audit.Problem{ID: 3, Position: 2, Kind: audit.Edited}},
		{"Delete", []string{`DELETE FROM audit_entries WHERE id = 3`},
			audit.Problem{ID: 3, Position: 2, Kind: audit.Deleted}},
		{"Swap", []string{
			`UPDATE audit_entries SET subject = 'release/4', reason = 'reason 4' WHERE id = 2`,
			`UPDATE audit_entries SET subject = 'release/2', reason = 'reason 2' WHERE id = 4`},
			audit.Problem{ID: 2, Position: 1, Kind: audit.Reordered}},
		{"Truncate", []string{`DELETE FROM audit_entries WHERE id > 3`},
			audit.Problem{ID: 4, Position: 3, Kind: audit.Truncated}},
		{"LeafRemoved", []string{`UPDATE audit_entries SET leaf = NULL WHERE id = 5`},
			audit.Problem{ID: 5, Position: 4, Kind: audit.Edited}},
		{"Checkpoints", []string{`UPDATE audit_checkpoints SET note = replace(note, 'belay audit log', 'belay audit LOG')`},
			audit.Problem{Position: 5, Kind: audit.Forged}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer fatalOnFailure(t)
			s, db := open(t)
			appendFive(t, s)
			k := must(audit.LoadKey(t.TempDir()))
			saved := must(audit.Seal(ctx(t), s, k, at))
			for _, q := range tc.sql {
				must(db.ExecContext(ctx(t), q))
			}
			_, probs, err := audit.Check(ctx(t), s, k.Verifier, saved.Note)
			ok(t, err)
			if len(probs) == 0 {
				t.Fatal("verification passed")
			}
			p := probs[0]
			if p.ID != tc.want.ID || p.Position != tc.want.Position || p.Kind != tc.want.Kind {
				t.Errorf("first problem %+v, want %+v (all: %v)", p, tc.want, probs)
			}
			if !strings.Contains(p.Message, string(tc.want.Kind)) {
				t.Errorf("message %q does not say %s", p.Message, tc.want.Kind)
			}
			if _, err := audit.Seal(ctx(t), s, k, at); !errors.Is(err, audit.ErrTampered) {
				t.Errorf("Seal of a tampered log: %v, want ErrTampered", err)
			}
		})
	}
}
