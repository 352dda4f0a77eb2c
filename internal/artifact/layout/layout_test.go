package layout

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) artifact.Store {
		s, err := New(filepath.Join(t.TempDir(), "artifacts"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestNewWritesLayoutFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	if _, err := New(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "oci-layout"))
	if err != nil || string(b) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Fatalf("oci-layout = %q, %v", b, err)
	}
	if _, err := New(dir); err != nil { // reopening keeps it
		t.Fatal(err)
	}
}
