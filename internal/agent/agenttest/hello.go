// Package agenttest gives tests of the agent and its targets real artifacts:
// an Opener serving examples/hello built from source.
package agenttest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// ErrNoArtifact is what HelloOpener answers for a reference it does not know.
var ErrNoArtifact = errors.New("no such artifact")

// HelloOpener opens references "hello" and "hello:<anything>" as a directory
// holding the examples/hello binary (named "hello"); any other reference is
// refused, as a missing artifact would be.
type HelloOpener struct{}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Open builds examples/hello once per test binary (cached across runs by the
// source's hash) and returns the directory holding it.
func (HelloOpener) Open(ctx context.Context, ref string) (string, error) {
	if ref != "hello" && !strings.HasPrefix(ref, "hello:") {
		return "", fmt.Errorf("%w: %q", ErrNoArtifact, ref)
	}
	buildOnce.Do(func() { buildDir, buildErr = build() })
	return buildDir, buildErr
}

// HelloDir builds hello if needed and returns its directory.
func HelloDir() (string, error) { return HelloOpener{}.Open(context.Background(), "hello") }

func build() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "..", "..", "..", "examples", "hello")
	main, err := os.ReadFile(filepath.Join(src, "main.go"))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(main)
	dir := filepath.Join(os.TempDir(), "belay-hello-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, "hello")); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(os.TempDir(), "belay-hello-build-")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(tmp, "hello"), ".")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build examples/hello: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if _, serr := os.Stat(filepath.Join(dir, "hello")); serr != nil {
			return "", err
		}
	}
	return dir, nil
}
