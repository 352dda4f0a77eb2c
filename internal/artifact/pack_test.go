package artifact

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func untarPlain(r io.Reader, dest string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dest, h.Name)
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
}

func TestPackDeterministicLayer(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b.txt", "a/z.txt", "a/y"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "a/y"), 0o700)
	files, err := CollectOutputs(dir, []string{"b.txt", "a"})
	if err != nil {
		t.Fatal(err)
	}
	meta := Metadata{Service: "s", Version: "s-1", Commit: "c", Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	img1, err := Pack(files, PackOptions{Meta: meta})
	if err != nil {
		t.Fatal(err)
	}
	// Another order and other mtimes on disk give the same image.
	slices.Reverse(files)
	os.Chtimes(filepath.Join(dir, "b.txt"), time.Now(), time.Now())
	img2, _ := Pack(files, PackOptions{Meta: meta})
	d1, _ := img1.Digest()
	d2, _ := img2.Digest()
	if d1 != d2 {
		t.Fatalf("same files packed twice: %s vs %s", d1, d2)
	}
	meta.Created = meta.Created.Add(time.Second)
	img3, _ := Pack(files, PackOptions{Meta: meta})
	if d3, _ := img3.Digest(); d3 == d1 {
		t.Fatal("another commit time gave the same digest")
	}

	layers, _ := img1.Layers()
	rc, _ := layers[0].Uncompressed()
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Errorf("%s: uid %d gid %d mtime %v", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		if h.Name == "app/a/y" && h.Mode != 0o755 || h.Name == "app/b.txt" && h.Mode != 0o644 {
			t.Errorf("%s: mode %o", h.Name, h.Mode)
		}
	}
	want := []string{"app/", "app/a/", "app/a/y", "app/a/z.txt", "app/b.txt"}
	if !slices.Equal(names, want) {
		t.Fatalf("tar entries %v, want %v", names, want)
	}
}

func TestCollectOutputsRefusesEscapes(t *testing.T) {
	for _, o := range []string{"../x", "/etc/passwd"} {
		if _, err := CollectOutputs(t.TempDir(), []string{o}); err == nil {
			t.Errorf("output %q accepted", o)
		}
	}
}

func TestPackErrorsStopTheCompressor(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	if err := os.WriteFile(ok, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Pack([]File{{Name: "a", Source: ok}, {Name: "b", Source: filepath.Join(dir, "gone")}}, PackOptions{})
	if !errors.Is(err, ErrMissingOutput) {
		t.Fatalf("missing source: %v", err)
	}
	if _, err := Pack([]File{{Name: "a", Source: ok}, {Name: "a", Source: ok}}, PackOptions{}); err == nil {
		t.Fatal("a name declared twice was packed")
	}
}
