package artifact

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OpenOptions configure Open.
type OpenOptions struct {
	Trusted  []PublicKey
	CacheDir string // where trees are unpacked, one per manifest digest
	Limits   Limits
}

// Opened is a verified artifact unpacked on disk.
type Opened struct {
	Dir    string // the image's root filesystem, read-only
	Report *Report
}

// Open verifies an artifact and returns its unpacked, read-only root
// filesystem, unpacking it only the first time (trees are cached by
// manifest digest). This is how targets get what they run.
func Open(ctx context.Context, s Store, ref string, opts OpenOptions) (*Opened, error) {
	if opts.CacheDir == "" {
		return nil, errors.New("artifact.Open: no cache directory")
	}
	r, err := Verify(ctx, s, ref, opts.Trusted)
	if err != nil {
		return nil, err
	}
	h, _ := v1.NewHash(r.Digest)
	final := filepath.Join(opts.CacheDir, h.Hex)
	if st, err := os.Stat(final); err == nil && st.IsDir() {
		return &Opened{Dir: final, Report: r}, nil
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(opts.CacheDir, ".unpack-")
	if err != nil {
		return nil, err
	}
	defer RemoveTree(tmp)
	for i, l := range r.manifest.Layers {
		if err := unpackLayer(ctx, s, l, tmp, opts.Limits); err != nil {
			return nil, fmt.Errorf("open %s: layer %d: %w", r.Version, i+1, err)
		}
	}
	if err := readOnly(tmp); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		if st, serr := os.Stat(final); serr == nil && st.IsDir() {
			return &Opened{Dir: final, Report: r}, nil // another process won the race
		}
		return nil, err
	}
	return &Opened{Dir: final, Report: r}, nil
}

// unpackLayer extracts one layer, hashing what it reads: the bytes
// unpacked are the bytes verified, even if the store changes meanwhile.
func unpackLayer(ctx context.Context, s Store, d v1.Descriptor, dest string, lim Limits) error {
	if d.MediaType != types.OCILayer && d.MediaType != types.DockerLayer {
		return fmt.Errorf("layer media type %s is not supported (want %s)", d.MediaType, types.OCILayer)
	}
	rc, err := s.Fetch(ctx, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	tee := io.TeeReader(rc, h)
	if err := Unpack(tee, dest, lim); err != nil {
		return err
	}
	// Read what tar did not need (padding) so the whole blob is hashed.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return err
	}
	return checkDigest(v1.Descriptor{Digest: d.Digest}, v1.Descriptor{Digest: hashOf(h)}, "layer "+d.Digest.String())
}

// readOnly removes write permission from every file and directory.
func readOnly(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p) // after their contents
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.Chmod(p, info.Mode().Perm()&^0o222)
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chmod(dirs[i], 0o555); err != nil {
			return err
		}
	}
	return nil
}

// RemoveTree removes a tree made read-only by Open.
func RemoveTree(root string) error {
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(root)
}

// DirOpener opens artifacts of a store for a target that runs them from a
// directory (the local agent): Open returns the image's working directory
// inside the verified tree, where run.command's relative paths resolve.
type DirOpener struct {
	Store   Store
	Options OpenOptions
}

// Open verifies and unpacks ref (a version or "sha256:…" digest).
func (d DirOpener) Open(ctx context.Context, ref string) (string, error) {
	o, err := Open(ctx, d.Store, ref, d.Options)
	if err != nil {
		return "", err
	}
	wd := o.Report.Config.WorkingDir
	if wd == "" {
		wd = DefaultRoot
	}
	dir := filepath.Join(o.Dir, filepath.FromSlash(wd))
	if !strings.HasPrefix(dir, o.Dir+string(filepath.Separator)) && dir != o.Dir {
		return "", fmt.Errorf("%w: working directory %q of %s leaves the image", ErrTampered, wd, ref)
	}
	return dir, nil
}
