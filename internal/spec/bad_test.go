package spec

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.err with the messages produced now")

// TestBadFiles checks that every testdata/*.bad.yaml is rejected with exactly
// the message in its sibling .err file.
func TestBadFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("only %d bad files; each error class needs one", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".bad.yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, perr := Parse(f, data)
			if perr == nil {
				t.Fatalf("%s was accepted", f)
			}
			if !errors.Is(perr, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", perr)
			}
			got := perr.Error() + "\n"
			golden := strings.TrimSuffix(f, ".bad.yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("message differs\n got: %s\nwant: %s", got, want)
			}
		})
	}
}
