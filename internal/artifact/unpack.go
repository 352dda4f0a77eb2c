package artifact

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Limits bound what Unpack accepts.
type Limits struct {
	MaxFileSize  int64 // one entry; default 1 GiB
	MaxTotalSize int64 // all entries; default 4 GiB
	MaxEntries   int   // default 100000
}

func (l Limits) withDefaults() Limits {
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = 1 << 30
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = 4 << 30
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = 100000
	}
	return l
}

// Unpack extracts a gzipped layer tar into dest, refusing anything that
// could write outside dest or surprise a runtime: absolute names, ".."
// components, entries through symlinks, symlinks pointing outside dest,
// hard links, device files and FIFOs, and entries over the limits. Each
// error wraps ErrUnsafeArchive and names the entry.
func Unpack(r io.Reader, dest string, lim Limits) error {
	lim = lim.withDefaults()
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("layer is not gzip: %w", err)
	}
	tr := tar.NewReader(zr)
	var total int64
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read layer: %w", err)
		}
		if n >= lim.MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrUnsafeArchive, lim.MaxEntries)
		}
		if hdr.Size > lim.MaxFileSize {
			return fmt.Errorf("%w: %s is %d bytes, over the limit of %d", ErrUnsafeArchive, hdr.Name, hdr.Size, lim.MaxFileSize)
		}
		if total += hdr.Size; total > lim.MaxTotalSize {
			return fmt.Errorf("%w: entries add up to more than %d bytes at %s", ErrUnsafeArchive, lim.MaxTotalSize, hdr.Name)
		}
		if err := unpackEntry(tr, hdr, dest); err != nil {
			return err
		}
	}
}

func unpackEntry(tr *tar.Reader, hdr *tar.Header, dest string) error {
	name, err := safeName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil
	}
	if err := noSymlinkParents(dest, name); err != nil {
		return err
	}
	target := filepath.Join(dest, filepath.FromSlash(name))
	mode := os.FileMode(hdr.Mode).Perm() // no setuid, setgid or sticky bits
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		return os.Chmod(target, mode|0o700)
	case tar.TypeReg:
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		_ = os.Remove(target) // never write through an existing symlink
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode|0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	case tar.TypeSymlink:
		if err := symlinkInside(name, hdr.Linkname); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		_ = os.Remove(target)
		return os.Symlink(hdr.Linkname, target)
	case tar.TypeChar, tar.TypeBlock:
		return fmt.Errorf("%w: %s is a device file", ErrUnsafeArchive, hdr.Name)
	case tar.TypeFifo:
		return fmt.Errorf("%w: %s is a FIFO", ErrUnsafeArchive, hdr.Name)
	case tar.TypeLink:
		return fmt.Errorf("%w: %s is a hard link (to %s), which belay's images never contain", ErrUnsafeArchive, hdr.Name, hdr.Linkname)
	}
	return fmt.Errorf("%w: %s has unsupported type %q", ErrUnsafeArchive, hdr.Name, hdr.Typeflag)
}

// safeName cleans a tar entry name, refusing absolute names and "..".
func safeName(n string) (string, error) {
	if strings.HasPrefix(n, "/") || filepath.IsAbs(n) || strings.Contains(n, "\\") {
		return "", fmt.Errorf("%w: %s is an absolute path", ErrUnsafeArchive, n)
	}
	for _, el := range strings.Split(n, "/") {
		if el == ".." {
			return "", fmt.Errorf("%w: %s contains \"..\"", ErrUnsafeArchive, n)
		}
	}
	return path.Clean(n), nil
}

// noSymlinkParents refuses entries whose parent directories include a
// symlink: writing through one could land anywhere.
func noSymlinkParents(dest, name string) error {
	dir := dest
	parts := strings.Split(name, "/")
	for _, p := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, p)
		st, err := os.Lstat(dir)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%w: %s goes through the symlink %s", ErrUnsafeArchive, name, strings.TrimPrefix(dir, dest+string(filepath.Separator)))
		}
	}
	return nil
}

// symlinkInside refuses symlink targets that are absolute or climb above
// the root from where the link is.
func symlinkInside(name, target string) error {
	if path.IsAbs(target) {
		return fmt.Errorf("%w: symlink %s points to the absolute path %s", ErrUnsafeArchive, name, target)
	}
	resolved := path.Join(path.Dir(name), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("%w: symlink %s -> %s escapes the root", ErrUnsafeArchive, name, target)
	}
	return nil
}
