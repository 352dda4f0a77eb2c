package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestDirOpener(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	_ = os.WriteFile(file, nil, 0o644)
	for ref, ok := range map[string]bool{"dir:" + dir: true, dir: true, "relative/x": false, "dir:" + file: false, dir + "/missing": false} {
		got, err := DirOpener{}.Open(context.Background(), ref)
		if (err == nil) != ok || (ok && got != dir) {
			t.Errorf("Open(%q) = %q, %v; want ok=%v", ref, got, err, ok)
		}
	}
}
