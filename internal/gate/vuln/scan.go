package vuln

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/vuln/scan"
)

// ErrScan is wrapped by errors of a govulncheck run that did not finish:
// the module does not load, the database cannot be read.
var ErrScan = errors.New("govulncheck failed")

// ScanOptions says what Scan checks and against which database.
type ScanOptions struct {
	Dir      string   // the Go module's directory
	Patterns []string // package patterns; ./... when empty
	// DB is an offline vulnerability database: a directory laid out as
	// vuln.go.dev serves it (index/db.json, index/modules.json,
	// ID/<id>.json). Empty: govulncheck's default, https://vuln.go.dev.
	DB  string
	Env []string // the environment of the go command; nil is this process's
}

// Scan runs govulncheck in this process (golang.org/x/vuln/scan) on the
// module in o.Dir, at symbol level, and returns its findings: a vulnerable
// function the code calls is Called, a vulnerable module it only requires
// or a package it only imports is NotCalled.
func Scan(ctx context.Context, o ScanOptions) ([]Finding, error) {
	args := []string{"-C", o.Dir, "-format", "json"}
	if o.DB != "" {
		u, err := dbURL(o.DB)
		if err != nil {
			return nil, err
		}
		args = append(args, "-db", u)
	}
	patterns := o.Patterns
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	var stdout, stderr bytes.Buffer
	cmd := scan.Command(ctx, append(args, patterns...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.Env = strings.NewReader(""), &stdout, &stderr, o.Env
	if err := cmd.Start(); err != nil {
		return nil, errorf(ErrScan, "govulncheck: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, errorf(ErrScan, "govulncheck on %s: %s", o.Dir, msg)
	}
	fs, err := parseGovulncheck(stdout.Bytes())
	if err != nil {
		return nil, errorf(ErrScan, "reading govulncheck's output: %v", err)
	}
	return fs, nil
}

// dbURL checks that dir looks like an offline database and turns it into
// the file URL govulncheck takes.
func dbURL(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(abs, "index", "modules.json")); err != nil {
		return "", errorf(ErrScan, "--db %s is not a vulnerability database: it has no index/modules.json "+
			"(an offline database holds index/db.json, index/modules.json and ID/<id>.json, as vuln.go.dev serves them)", dir)
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
}
