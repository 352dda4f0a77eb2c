package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// names lists the directory, to catch temporary files left behind.
func names(t *testing.T, dir string) []string {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	n, err := d.Readdirnames(-1)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWriteCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, c := range []struct {
		data string
		perm os.FileMode
	}{{"first\n", 0o600}, {"second, longer\n", 0o644}, {"", 0o444}} {
		if err := Write(path, []byte(c.data), c.perm); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != c.data {
			t.Fatalf("read %q %v, want %q", got, err, c.data)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != c.perm {
			t.Fatalf("mode %v, want %v", fi.Mode().Perm(), c.perm)
		}
		if n := names(t, dir); len(n) != 1 {
			t.Fatalf("directory holds %v, want only state.json", n)
		}
	}
}

func TestFailedFillKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "index.json")
	if err := Write(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("checksum mismatch")
	err := WriteFunc(path, 0o644, func(w io.Writer) error {
		io.WriteString(w, "half of the new")
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Fatalf("got %v, want the fill's error naming %s", err, path)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Fatalf("old file became %q", got)
	}
	if n := names(t, dir); len(n) != 1 {
		t.Fatalf("temporary file left behind: %v", n)
	}
}

func TestFailedRenameLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "taken")
	// A non-empty directory cannot be renamed over, even by root.
	if err := os.MkdirAll(filepath.Join(path, "inside"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("x"), 0o644); err == nil {
		t.Fatal("renamed over a directory")
	}
	if n := names(t, dir); len(n) != 1 || n[0] != "taken" {
		t.Fatalf("temporary file left behind: %v", n)
	}
	if _, err := os.Stat(filepath.Join(path, "inside")); err != nil {
		t.Fatalf("the directory in the way was touched: %v", err)
	}
}

func TestMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent", "f")
	if err := Write(path, []byte("x"), 0o644); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want ErrNotExist", err)
	}
}

// TestReadersSeeWholeFiles reads while writers replace the file: every read
// sees one complete version.
func TestReadersSeeWholeFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	a, b := bytes.Repeat([]byte("a"), 64<<10), bytes.Repeat([]byte("b"), 64<<10)
	if err := Write(path, a, 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, data := range [][]byte{a, b} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := Write(path, data, 0o644); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 200 {
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, a) && !bytes.Equal(got, b) {
			t.Errorf("read %d bytes (%v), neither version whole", len(got), err)
			break
		}
	}
	close(stop)
	wg.Wait()
}
