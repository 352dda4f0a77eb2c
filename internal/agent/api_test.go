package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFollowReadsAppendedLinesAndSurvivesRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	f := LogFile{Version: "v1", Instance: "0", Path: path}
	_ = os.WriteFile(path, []byte("one\ntwo\npart"), 0o644)
	var out strings.Builder
	off := follow(&out, f, 4, nil)
	if out.String() != "v1/0 | two\n" || off != 8 {
		t.Fatalf("got %q at %d; want only the finished line after offset 4", out.String(), off)
	}
	// Copy-truncate rotation shrinks the file: reading restarts at 0.
	_ = os.WriteFile(path, []byte("fresh\n"), 0o644)
	out.Reset()
	if off = follow(&out, f, off, nil); out.String() != "v1/0 | fresh\n" || off != 6 {
		t.Fatalf("after rotation got %q at %d", out.String(), off)
	}
}
