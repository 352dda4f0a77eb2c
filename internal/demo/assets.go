// Package demo runs belay's whole story on this host: it builds the bundled
// example service three times, starts server and agent, drives load, and
// walks a good and a bad release through staging and production.
package demo

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/txtar"
)

// helloArchive is examples/hello, kept as a txtar so that `go install`ed
// binaries carry it (a directory with its own go.mod cannot be embedded).
// TestHelloArchiveCurrent keeps it equal to examples/hello; refresh with
// `go test ./internal/demo -run TestHelloArchiveCurrent -update`.
//
//go:embed hello.txtar
var helloArchive []byte

// WriteHello writes the example service's source tree into dir.
func WriteHello(dir string) error {
	ar := txtar.Parse(helloArchive)
	for _, f := range ar.Files {
		if strings.Contains(f.Name, "..") || filepath.IsAbs(f.Name) {
			return fmt.Errorf("demo archive: bad file name %q", f.Name)
		}
		p := filepath.Join(dir, f.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
