package audit

import (
	"bytes"
	"fmt"
	"sort"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/belay-dev/belay/internal/store"
)

// Kind is the most likely tampering behind a problem.
type Kind string

// Kinds of problem Verify finds.
const (
	// Edited: an entry's content no longer hashes to the leaf stored with it.
	Edited Kind = "edited"
	// Deleted: IDs skip, so the entries between are gone.
	Deleted Kind = "deleted"
	// Reordered: an entry holds another's content, or comes out of order.
	Reordered Kind = "reordered"
	// Truncated: the log is shorter than a checkpoint signed earlier.
	Truncated Kind = "truncated"
	// Rewritten: the log's first entries do not hash to a checkpoint's root,
	// though each entry matches its stored leaf: edited with its leaf recomputed.
	Rewritten Kind = "rewritten"
	// Forged: the stored checkpoint is not signed by the server's key.
	Forged Kind = "forged"
)

// Problem is one place where the log is not what was appended.
type Problem struct {
	ID       int64 // the entry concerned (the first missing one for a deletion or truncation)
	Position int64 // its leaf index in the tree, from 0
	Kind     Kind
	Message  string
}

func (p Problem) String() string { return p.Message }

// Verify checks the whole log (every entry as stored, in ID order, with the
// leaf hash stored beside it) against itself and against checkpoints
// already signed (their signatures checked by the caller). It returns the
// checkpoint of the log as it is and the problems, in log order.
func Verify(entries []store.AuditEntry, checkpoints ...Checkpoint) (Checkpoint, []Problem) {
	leaves := make([]tlog.Hash, len(entries))
	var probs []Problem
	var mismatched []int
	present := make(map[int64]bool, len(entries))
	for _, e := range entries {
		present[e.ID] = true
	}
	next := int64(1) // IDs start at 1 and never skip: the store assigns them under a lock
	for i, e := range entries {
		leaves[i] = Leaf(e)
		switch {
		case e.ID > next && present[next]:
			probs = append(probs, Problem{ID: e.ID, Position: int64(i), Kind: Reordered,
				Message: fmt.Sprintf("entry %d (position %d) comes before entry %d: entries were reordered", e.ID, i, next)})
		case e.ID > next:
			probs = append(probs, Problem{ID: next, Position: int64(i), Kind: Deleted, Message: missing(next, e.ID, i)})
		case e.ID < next:
			probs = append(probs, Problem{ID: e.ID, Position: int64(i), Kind: Reordered,
				Message: fmt.Sprintf("entry %d (position %d) comes after entry %d: entries were reordered", e.ID, i, next-1)})
		}
		next = max(next, e.ID+1)
		if !bytes.Equal(e.Leaf, leaves[i][:]) {
			mismatched = append(mismatched, i)
		}
	}
	probs = append(probs, leafProblems(entries, mismatched)...)
	tree, err := NewTree(leaves)
	if err != nil { // cannot happen: every hash is in memory
		panic(err)
	}
	size := int64(len(entries))
	root, _ := tree.Root(size)
	for _, c := range checkpoints {
		probs = append(probs, against(c, entries, tree, probs)...)
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Position < probs[j].Position })
	return Checkpoint{Size: size, Root: root}, probs
}

func missing(from, upTo int64, pos int) string {
	if upTo-from == 1 {
		return fmt.Sprintf("entry %d (position %d) is missing: the log goes from entry %d to entry %d: it was deleted", from, pos, from-1, upTo)
	}
	return fmt.Sprintf("entries %d to %d (from position %d) are missing: the log goes from entry %d to entry %d: they were deleted", from, upTo-1, pos, from-1, upTo)
}

// leafProblems explains the entries whose content does not hash to their
// stored leaf: content that hashes to another mismatched entry's leaf under
// that entry's ID was moved (reordered); anything else was edited.
func leafProblems(entries []store.AuditEntry, mismatched []int) []Problem {
	var probs []Problem
	for _, i := range mismatched {
		e := entries[i]
		p := Problem{ID: e.ID, Position: int64(i), Kind: Edited,
			Message: fmt.Sprintf("entry %d (position %d) was edited: its content no longer matches the leaf hash stored when it was appended", e.ID, i)}
		if len(e.Leaf) == 0 {
			p.Message = fmt.Sprintf("entry %d (position %d) has no leaf hash: it was edited or inserted", e.ID, i)
		}
		for _, j := range mismatched {
			o := entries[j]
			moved := e
			moved.ID = o.ID
			if l := Leaf(moved); j != i && (bytes.Equal(l[:], o.Leaf) || bytes.Equal(l[:], e.Leaf)) {
				p.Kind = Reordered
				p.Message = fmt.Sprintf("entry %d (position %d) holds what entry %d held: entries were reordered", e.ID, i, o.ID)
				break
			}
		}
		probs = append(probs, p)
	}
	return probs
}

// against checks the log against checkpoint c. A root mismatch is reported
// only where no entry before c.Size already explains it.
func against(c Checkpoint, entries []store.AuditEntry, tree *Tree, found []Problem) []Problem {
	n := int64(len(entries))
	last := int64(0)
	if n > 0 {
		last = entries[n-1].ID
	}
	if last < c.Size || n < c.Size && len(found) == 0 {
		return []Problem{{ID: last + 1, Position: n, Kind: Truncated, Message: fmt.Sprintf(
			"the log ends at entry %d (%d entries), but a checkpoint was signed at size %d: entries from %d on were truncated", last, n, c.Size, last+1)}}
	}
	if c.Size == 0 {
		return nil
	}
	for _, p := range found {
		if p.Position < c.Size {
			return nil
		}
	}
	root, err := tree.Root(c.Size)
	if err != nil || root != c.Root {
		return []Problem{{ID: entries[c.Size-1].ID, Position: c.Size - 1, Kind: Rewritten, Message: fmt.Sprintf(
			"the first %d entries do not hash to the root of the checkpoint of size %d: an entry up to %d was rewritten with its leaf hash",
			c.Size, c.Size, entries[c.Size-1].ID)}}
	}
	return nil
}
