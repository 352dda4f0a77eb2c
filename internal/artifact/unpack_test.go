package artifact

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	name, link string
	typ        byte
	body       string
}

func tarball(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ == tar.TypeDir || e.typ == tar.TypeSymlink || e.typ == tar.TypeChar || e.typ == tar.TypeLink || e.typ == tar.TypeFifo {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestUnpackRefusesUnsafeEntries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []entry
		want    string
	}{
		{"dotdot", []entry{{name: "../evil", typ: tar.TypeReg, body: "x"}}, `contains ".."`},
		{"dotdot inside", []entry{{name: "app/../../evil", typ: tar.TypeReg, body: "x"}}, `contains ".."`},
		{"absolute", []entry{{name: "/tmp/evil", typ: tar.TypeReg, body: "x"}}, "absolute path"},
		{"absolute symlink", []entry{{name: "l", link: "/etc", typ: tar.TypeSymlink}}, "absolute path /etc"},
		{"escaping symlink", []entry{{name: "app/l", link: "../../outside", typ: tar.TypeSymlink}}, "escapes the root"},
		{"write through symlink", []entry{
			{name: "app/", typ: tar.TypeDir},
			{name: "l", link: "app", typ: tar.TypeSymlink},
			{name: "l/x", typ: tar.TypeReg, body: "x"},
		}, "goes through the symlink l"},
		{"device", []entry{{name: "dev/sda", typ: tar.TypeChar}}, "device file"},
		{"fifo", []entry{{name: "f", typ: tar.TypeFifo}}, "FIFO"},
		{"hard link", []entry{{name: "a", typ: tar.TypeReg, body: "x"}, {name: "b", link: "/etc/passwd", typ: tar.TypeLink}}, "hard link"},
		{"oversize", []entry{{name: "big", typ: tar.TypeReg, body: strings.Repeat("x", 101)}}, "over the limit of 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dest := filepath.Join(parent, "root")
			if err := os.Mkdir(dest, 0o755); err != nil {
				t.Fatal(err)
			}
			err := Unpack(bytes.NewReader(tarball(t, tc.entries...)), dest, Limits{MaxFileSize: 100})
			if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Unpack: %v; want ErrUnsafeArchive with %q", err, tc.want)
			}
			if _, err := os.Lstat(filepath.Join(parent, "evil")); err == nil {
				t.Fatal("an entry was written outside the root")
			}
		})
	}
}

func TestUnpackTotalLimit(t *testing.T) {
	a := tarball(t, entry{name: "a", typ: tar.TypeReg, body: "12345"}, entry{name: "b", typ: tar.TypeReg, body: "12345"})
	if err := Unpack(bytes.NewReader(a), t.TempDir(), Limits{MaxTotalSize: 9}); !errors.Is(err, ErrUnsafeArchive) {
		t.Fatalf("over the total: %v", err)
	}
}

func TestUnpackGoodArchive(t *testing.T) {
	dest := t.TempDir()
	a := tarball(t,
		entry{name: "app/", typ: tar.TypeDir},
		entry{name: "app/bin/hello", typ: tar.TypeReg, body: "binary"},
		entry{name: "app/current", link: "bin/hello", typ: tar.TypeSymlink},
		entry{name: "app/up", link: "../app/bin", typ: tar.TypeSymlink},
	)
	if err := Unpack(bytes.NewReader(a), dest, Limits{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dest, "app", "current"))
	if err != nil || string(b) != "binary" {
		t.Fatalf("through the inside symlink: %q, %v", b, err)
	}
}
