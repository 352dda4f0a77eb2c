package demo

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

var update = flag.Bool("update", false, "rewrite hello.txtar from examples/hello")

// helloFiles are the files of examples/hello that make up the project.
func helloFiles(t *testing.T) *txtar.Archive {
	t.Helper()
	root := filepath.Join("..", "..", "examples", "hello")
	var names []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (n == "bin" || n == ".belay" || n[0] == '.') {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		names = append(names, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	ar := &txtar.Archive{Comment: []byte("examples/hello, embedded for `belay demo`; regenerate with -update\n")}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(root, n))
		if err != nil {
			t.Fatal(err)
		}
		ar.Files = append(ar.Files, txtar.File{Name: filepath.ToSlash(n), Data: b})
	}
	return ar
}

func TestHelloArchiveCurrent(t *testing.T) {
	want := txtar.Format(helloFiles(t))
	if *update {
		if err := os.WriteFile("hello.txtar", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(want, helloArchive) {
		t.Fatal("internal/demo/hello.txtar differs from examples/hello: run go test ./internal/demo -run TestHelloArchiveCurrent -update")
	}
}

func TestWriteHello(t *testing.T) {
	dir := t.TempDir()
	if err := WriteHello(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
		t.Fatal(err)
	}
}
