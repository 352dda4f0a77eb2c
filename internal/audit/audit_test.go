package audit

import (
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/belay-dev/belay/internal/store"
)

// sealed returns n entries as the store appends them: IDs from 1, leaves set.
func sealed(n int) []store.AuditEntry {
	at := time.Date(2026, 5, 12, 10, 30, 0, 123456000, time.UTC)
	var es []store.AuditEntry
	for i := 1; i <= n; i++ {
		e := store.AuditEntry{ID: int64(i), At: at.Add(time.Duration(i) * time.Second), Actor: "carol", Action: "approve",
			Subject: "release/" + string(rune('0'+i)), Reason: "ticket " + string(rune('0'+i)), Detail: []byte(`{"env":"prod"}`)}
		l := Leaf(e)
		e.Leaf = l[:]
		es = append(es, e)
	}
	return es
}

func TestCanonicalIsFixed(t *testing.T) {
	e := store.AuditEntry{ID: 7, At: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("CET", 3600)), Actor: "a", Action: "b",
		Subject: "c", Reason: "d", Detail: []byte(`{"x": 1}`)}
	want := "belay-audit-entry-v1\n" + `{"action":"b","actor":"a","at":"2026-01-02T02:04:05.000006Z","detail":"{\"x\": 1}","id":7,"reason":"d","subject":"c"}`
	if got := string(Canonical(e)); got != want {
		t.Errorf("Canonical =\n%s\nwant\n%s", got, want)
	}
}

func TestTreeMatchesTlog(t *testing.T) {
	es := sealed(5)
	var leaves []tlog.Hash
	for _, e := range es {
		leaves = append(leaves, Leaf(e))
	}
	tree, err := NewTree(leaves)
	if err != nil {
		t.Fatal(err)
	}
	// A tree of two leaves is NodeHash of the two: tlog's definition.
	if got, _ := tree.Root(2); got != tlog.NodeHash(leaves[0], leaves[1]) {
		t.Errorf("root(2) = %v", got)
	}
	c, probs := Verify(es)
	if len(probs) != 0 || c.Size != 5 {
		t.Fatalf("Verify = %v, %v", c, probs)
	}
	if r, _ := tree.Root(5); r != c.Root {
		t.Errorf("Verify root %v, tree root %v", c.Root, r)
	}
}

func TestCheckpointNote(t *testing.T) {
	k, err := LoadKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := Verify(sealed(3))
	text, err := Sign(c, k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, "belay audit log\n3\n"+c.Root.String()+"\n\n— belay-audit ") {
		t.Errorf("note = %q", text)
	}
	got, err := Open(text, k.Verifier)
	if err != nil || got != c {
		t.Errorf("Open = %v, %v; want %v", got, err, c)
	}
	other, _ := LoadKey(t.TempDir())
	if _, err := Open(text, other.Verifier); err == nil {
		t.Error("a note opened with another server's key")
	}
	if _, err := Open(strings.Replace(text, "\n3\n", "\n4\n", 1), k.Verifier); err == nil {
		t.Error("an edited note opened")
	}
}

func TestLoadKeyKeepsKey(t *testing.T) {
	home := t.TempDir()
	k1, err := LoadKey(home)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadKey(home)
	if err != nil || k1.Public != k2.Public {
		t.Fatalf("second load: %v, %v ≠ %v", err, k2, k1.Public)
	}
	priv, _ := KeyFiles(home)
	if fi, err := os.Stat(priv); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("audit.key: %v, %v", fi, err)
	}
}

// TestVerifyTampering: each kind of tampering is found and named, with and
// without recomputed leaf hashes, against a checkpoint of the untouched log.
func TestVerifyTampering(t *testing.T) {
	cp, _ := Verify(sealed(5))
	reseal := func(e *store.AuditEntry) { l := Leaf(*e); e.Leaf = l[:] }
	tests := []struct {
		name   string
		tamper func([]store.AuditEntry) []store.AuditEntry
		want   Problem
	}{
		{"edit", func(es []store.AuditEntry) []store.AuditEntry { es[2].Reason = "nothing to see"; return es },
			Problem{ID: 3, Position: 2, Kind: Edited}},
		{"edit resealed", func(es []store.AuditEntry) []store.AuditEntry { es[2].Reason = "x"; reseal(&es[2]); return es },
			Problem{ID: 5, Position: 4, Kind: Rewritten}},
		{"delete", func(es []store.AuditEntry) []store.AuditEntry { return append(es[:1], es[2:]...) },
			Problem{ID: 2, Position: 1, Kind: Deleted}},
		{"swap content", func(es []store.AuditEntry) []store.AuditEntry {
			es[1].Reason, es[1].Subject, es[3].Reason, es[3].Subject = es[3].Reason, es[3].Subject, es[1].Reason, es[1].Subject
			es[1].At, es[3].At = es[3].At, es[1].At
			return es
		}, Problem{ID: 2, Position: 1, Kind: Reordered}},
		{"swap rows", func(es []store.AuditEntry) []store.AuditEntry { es[1], es[3] = es[3], es[1]; return es },
			Problem{ID: 4, Position: 1, Kind: Reordered}},
		{"truncate", func(es []store.AuditEntry) []store.AuditEntry { return es[:3] },
			Problem{ID: 4, Position: 3, Kind: Truncated}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := Verify(tc.tamper(sealed(5)), cp)
			if len(probs) == 0 {
				t.Fatal("tampering not found")
			}
			p := probs[0]
			if p.ID != tc.want.ID || p.Position != tc.want.Position || p.Kind != tc.want.Kind {
				t.Errorf("first problem = %+v, want %+v (all: %v)", p, tc.want, probs)
			}
			if !strings.Contains(p.Message, "entr") || !strings.Contains(p.Message, string(tc.want.Kind)) {
				t.Errorf("message %q does not name the entry and %s", p.Message, tc.want.Kind)
			}
		})
	}
}

func TestVerifyGrownLog(t *testing.T) {
	cp, _ := Verify(sealed(3))
	if _, probs := Verify(sealed(5), cp); len(probs) != 0 {
		t.Errorf("a log that only grew: %v", probs)
	}
}
