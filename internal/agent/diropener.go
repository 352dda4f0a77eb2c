package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DirOpener opens references that name a directory on this host ("dir:PATH"
// or an absolute path): an unpacked artifact, or a build output during
// development. It verifies nothing; the artifact store's opener does that.
type DirOpener struct{}

var _ Opener = DirOpener{}

// Open returns the directory the reference names, if it exists.
func (DirOpener) Open(_ context.Context, ref string) (string, error) {
	p, ok := strings.CutPrefix(ref, "dir:")
	if !ok && !filepath.IsAbs(ref) {
		return "", fmt.Errorf("reference %q: this agent opens only directories (dir:PATH or an absolute path)", ref)
	}
	if !ok {
		p = ref
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("reference %q: %w", ref, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("reference %q: %s is not a directory", ref, p)
	}
	return filepath.Abs(p)
}
