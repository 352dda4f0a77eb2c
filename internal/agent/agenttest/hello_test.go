package agenttest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestHelloOpener(t *testing.T) {
	dir, err := HelloOpener{}.Open(context.Background(), "hello:v1")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "hello")); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("no executable hello in %s: %v", dir, err)
	}
	if _, err := (HelloOpener{}).Open(context.Background(), "nope"); !errors.Is(err, ErrNoArtifact) {
		t.Fatalf("unknown ref: %v", err)
	}
}
