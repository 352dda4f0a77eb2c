package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() { scriptCmds["leakcheck"] = cmdLeakCheck }

// leakcheck DIR VALUEFILE [-except RELPATH]...: fail if any file under DIR
// (the project, belay's home with its database, logs, events, artifacts and
// the agent's instance logs) holds the value in VALUEFILE (trailing newline
// dropped), except the files named. It reports how many files it read.
func cmdLeakCheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: leakcheck DIR VALUEFILE [-except RELPATH]...")
	}
	value := bytes.TrimSuffix([]byte(ts.ReadFile(args[1])), []byte("\n"))
	except := map[string]bool{}
	for i := 2; i+1 < len(args); i += 2 {
		if args[i] != "-except" {
			ts.Fatalf("usage: leakcheck DIR VALUEFILE [-except RELPATH]...")
		}
		except[args[i+1]] = true
	}
	root := ts.MkAbs(args[0])
	var hits []string
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if except[rel] {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil // a socket or a file that went away
		}
		n++
		if bytes.Contains(b, value) {
			hits = append(hits, rel)
		}
		return nil
	})
	ts.Check(err)
	ts.Logf("leakcheck: read %d files under %s", n, args[0])
	if len(hits) > 0 {
		ts.Fatalf("the secret is in %s", strings.Join(hits, ", "))
	}
}
