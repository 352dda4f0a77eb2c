package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/store"
)

func TestOpenStoreDefaultsToHomeBesideProject(t *testing.T) {
	dir := t.TempDir()
	g := &Globals{}
	s, err := g.OpenStore(t.Context(), filepath.Join(dir, "belay.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(dir, ".belay", "state.db")); err != nil {
		t.Errorf("state.db not beside belay.yaml: %v", err)
	}
}

func TestOpenStoreUnknownScheme(t *testing.T) {
	g := &Globals{State: "mysql://db/belay", Home: t.TempDir()}
	_, err := g.OpenStore(t.Context(), "", nil)
	if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "postgres") {
		t.Errorf("error = %v, want ErrInvalid listing the known schemes", err)
	}
}
