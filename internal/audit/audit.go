// Package audit makes belay's audit log tamper-evident: each entry's
// canonical bytes are a leaf of a Merkle tree (golang.org/x/mod/sumdb/tlog),
// checkpoints of the tree are signed notes (golang.org/x/mod/sumdb/note),
// and Verify names the entries an edit, a deletion, a reordering or a
// truncation touched.
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/belay-dev/belay/internal/store"
)

// ErrCheckpoint is a checkpoint note that is malformed or not signed by
// the expected key.
var ErrCheckpoint = errors.New("audit checkpoint")

// canonicalPrefix starts every entry's canonical bytes, so that a change of
// encoding changes every leaf rather than silently meaning something else.
const canonicalPrefix = "belay-audit-entry-v1\n"

// canonical is an entry's encoding, with its JSON keys in sorted order.
// Detail is kept as a string: its exact bytes, never re-formatted JSON.
type canonical struct {
	Action  string `json:"action"`
	Actor   string `json:"actor"`
	At      string `json:"at"`
	Detail  string `json:"detail"`
	ID      int64  `json:"id"`
	Reason  string `json:"reason"`
	Subject string `json:"subject"`
}

// Canonical is the fixed encoding of an entry that its leaf hash covers:
// "belay-audit-entry-v1\n" then a JSON object with the keys action, actor,
// at (RFC 3339 with nanoseconds, UTC), detail (the detail's JSON text as a
// string, "" when none), id, reason and subject, in that order.
func Canonical(e store.AuditEntry) []byte {
	b, _ := json.Marshal(canonical{Action: e.Action, Actor: e.Actor, At: e.At.UTC().Format(time.RFC3339Nano),
		Detail: string(e.Detail), ID: e.ID, Reason: e.Reason, Subject: e.Subject})
	return append([]byte(canonicalPrefix), b...)
}

// Leaf is an entry's leaf hash in the tree: tlog.RecordHash of its canonical bytes.
func Leaf(e store.AuditEntry) tlog.Hash { return tlog.RecordHash(Canonical(e)) }

// Tree is the Merkle tree over a run of leaves, held in memory.
type Tree struct{ stored []tlog.Hash }

// NewTree builds the tree over leaves, in order.
func NewTree(leaves []tlog.Hash) (*Tree, error) {
	t := &Tree{}
	for i, l := range leaves {
		hs, err := tlog.StoredHashesForRecordHash(int64(i), l, t)
		if err != nil {
			return nil, err
		}
		t.stored = append(t.stored, hs...)
	}
	return t, nil
}

// ReadHashes implements tlog.HashReader over the hashes in memory.
func (t *Tree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(t.stored)) {
			return nil, fmt.Errorf("audit: tree hash %d not stored", x)
		}
		out[i] = t.stored[x]
	}
	return out, nil
}

// Root is the root hash of the tree's first n leaves.
func (t *Tree) Root(n int64) (tlog.Hash, error) { return tlog.TreeHash(n, t) }
