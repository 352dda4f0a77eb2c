package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/layout"
	"github.com/belay-dev/belay/internal/artifact/storeurl"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["copyexample"] = cmdCopyExample
	scriptCmds["goenv"] = cmdGoEnv
	scriptCmds["capture"] = cmdCapture
	scriptCmds["corruptblob"] = cmdCorruptBlob
	scriptCmds["sameblobs"] = cmdSameBlobs
}

// copyexample NAME DIR copies examples/NAME into DIR.
func cmdCopyExample(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: copyexample NAME DIR")
	}
	src := filepath.Join("..", "..", "examples", args[0])
	dst := ts.MkAbs(args[1])
	ts.Check(os.CopyFS(dst, os.DirFS(src)))
}

// goenv passes the Go toolchain's caches into the script, whose HOME is
// not writable, so that builds inside it reuse them.
func cmdGoEnv(ts *testscript.TestScript, neg bool, args []string) {
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOFLAGS", "GOTOOLCHAIN").Output()
	ts.Check(err)
	names := []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOFLAGS", "GOTOOLCHAIN"}
	for i, v := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		ts.Setenv(names[i], v)
	}
}

// capture VAR REGEXP sets VAR to the first group of REGEXP in the last stdout.
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: capture VAR REGEXP")
	}
	m := regexp.MustCompile("(?m)" + args[1]).FindStringSubmatch(ts.ReadFile("stdout"))
	if len(m) < 2 {
		ts.Fatalf("capture: %q not in stdout", args[1])
	}
	ts.Setenv(args[0], m[1])
}

// corruptblob LAYOUT VERSION layer|config|manifest flips a byte of a blob.
func cmdCorruptBlob(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: corruptblob LAYOUT VERSION layer|config|manifest")
	}
	s, err := layout.New(ts.MkAbs(args[0]))
	ts.Check(err)
	d, err := s.Resolve(context.Background(), args[1])
	ts.Check(err)
	target := d.Digest
	if args[2] != "manifest" {
		raw, err := os.ReadFile(s.BlobPath(d.Digest))
		ts.Check(err)
		var m v1.Manifest
		ts.Check(json.Unmarshal(raw, &m))
		target = m.Config.Digest
		if args[2] == "layer" {
			target = m.Layers[0].Digest
		}
	}
	p := s.BlobPath(target)
	b, err := os.ReadFile(p)
	ts.Check(err)
	b[len(b)/2] ^= 0x20
	ts.Check(os.Chmod(p, 0o644))
	ts.Check(os.WriteFile(p, b, 0o644))
}

// sameblobs STORE_A STORE_B VERSION checks that both stores hold the same
// bytes for the version's manifest, config and layers.
func cmdSameBlobs(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: sameblobs STORE_A STORE_B VERSION")
	}
	ctx := context.Background()
	var blobs [2][][]byte
	for i, u := range args[:2] {
		if !strings.Contains(u, "://") {
			u = ts.MkAbs(u)
		}
		s, err := storeurl.Open(u, "")
		ts.Check(err)
		d, err := s.Resolve(ctx, args[2])
		ts.Check(err)
		raw := fetch(ts, s, d)
		var m v1.Manifest
		ts.Check(json.Unmarshal(raw, &m))
		blobs[i] = append(blobs[i], raw, fetch(ts, s, m.Config))
		for _, l := range m.Layers {
			blobs[i] = append(blobs[i], fetch(ts, s, l))
		}
	}
	same := len(blobs[0]) == len(blobs[1])
	for i := 0; same && i < len(blobs[0]); i++ {
		same = bytes.Equal(blobs[0][i], blobs[1][i])
	}
	if same == neg {
		ts.Fatalf("sameblobs: same=%v (%d and %d blobs)", same, len(blobs[0]), len(blobs[1]))
	}
}

func fetch(ts *testscript.TestScript, s artifact.Store, d v1.Descriptor) []byte {
	rc, err := s.Fetch(context.Background(), d)
	ts.Check(err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	ts.Check(err)
	return b
}
