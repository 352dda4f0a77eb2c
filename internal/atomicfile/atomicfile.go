// Package atomicfile replaces a file's contents in one step: a reader sees
// the old file or the new one, never a mix, and once Write returns the new
// contents survive a crash or power loss.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// Write replaces the file at path with data. The file's mode becomes perm
// exactly (the umask does not apply). The directory must exist.
func Write(path string, data []byte, perm os.FileMode) error {
	return WriteFunc(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc is Write for contents that are streamed rather than held in
// memory: fill writes them, and an error from fill (say, a checksum that
// does not match) leaves the old file in place.
//
// The contents go to a temporary file in the same directory, which is
// fsynced, renamed over path, and then the directory is fsynced so that the
// rename itself is durable. On failure the temporary file is removed.
func WriteFunc(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := replace(dir, path, perm, fill); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: the file is in place but its directory could not be synced: %w", path, err)
	}
	return nil
}

// replace writes a temporary file in dir and renames it over path; on
// failure it removes the temporary file.
func replace(dir, path string, perm os.FileMode, fill func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	ferr := fill(tmp)
	serr := tmp.Sync()
	cerr := tmp.Close()
	err = errors.Join(ferr, serr, cerr)
	if err == nil {
		err = os.Chmod(tmp.Name(), perm)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// syncDir makes a rename in dir durable. File systems that cannot sync a
// directory (EINVAL) commit renames by other means, so that is no error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
