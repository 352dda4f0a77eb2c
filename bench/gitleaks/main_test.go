package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/belay-dev/belay/internal/gate/secrets"
)

// A small generated history holds exactly the secrets it plants, and a
// second call reuses it.
func TestGeneratedHistory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	planted, err := ensureRepo(dir, 3000)
	if err != nil {
		t.Fatal(err)
	}
	if planted != 2 {
		t.Fatalf("planted %d, want 2", planted)
	}
	rep, err := secrets.Scan(context.Background(), secrets.Options{Path: dir, Mode: secrets.History})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != planted || rep.Commits != 3000 {
		t.Errorf("%d commits scanned, findings %+v", rep.Commits, rep.Findings)
	}
	if again, err := ensureRepo(dir, 3000); err != nil || again != planted {
		t.Errorf("reuse: %d, %v", again, err)
	}
}
