// Package layout is an artifact.Store on an OCI image layout directory
// (oci-layout, index.json, blobs/sha256/…), readable by any OCI tool.
// Tags are index.json entries annotated with org.opencontainers.image.ref.name.
package layout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/atomicfile"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const refName = "org.opencontainers.image.ref.name"

// Store is an OCI image layout on disk.
type Store struct {
	dir string
	mu  sync.Mutex // index.json within the process; flock across processes
}

var _ artifact.Store = (*Store)(nil)

// New opens the layout at dir, creating it when absent.
func New(dir string) (*Store, error) {
	s := &Store{dir: dir}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("artifact store %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); errors.Is(err, fs.ErrNotExist) {
		if err := atomicfile.Write(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(s.indexPath()); errors.Is(err, fs.ErrNotExist) {
		if err := s.writeIndex(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Dir is the layout's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) String() string { return s.dir }

// BlobPath is where a blob lives, for tools and tests.
func (s *Store) BlobPath(h v1.Hash) string { return filepath.Join(s.dir, "blobs", h.Algorithm, h.Hex) }

func (s *Store) indexPath() string { return filepath.Join(s.dir, "index.json") }

// PutBlob writes the blob through a temporary file, checking its digest
// before it takes its name.
func (s *Store) PutBlob(_ context.Context, d v1.Descriptor, r io.Reader) error {
	if d.Digest.Algorithm != "sha256" || len(d.Digest.Hex) != 64 {
		return fmt.Errorf("blob digest %q: only sha256 is supported", d.Digest)
	}
	dst := s.BlobPath(d.Digest)
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	err := atomicfile.WriteFunc(dst, 0o444, func(w io.Writer) error {
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(w, h), r); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != d.Digest.Hex {
			return fmt.Errorf("content hashes to sha256:%s", got)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write blob %s: %w", d.Digest, err)
	}
	return nil
}

// PutManifest stores the manifest as a blob and points tag at it.
func (s *Store) PutManifest(ctx context.Context, d v1.Descriptor, raw []byte, tag string) error {
	if err := s.PutBlob(ctx, d, bytes.NewReader(raw)); err != nil {
		return err
	}
	if tag == "" {
		return nil
	}
	return s.updateIndex(func(idx *v1.IndexManifest) {
		idx.Manifests = slices.DeleteFunc(idx.Manifests, func(x v1.Descriptor) bool { return x.Annotations[refName] == tag })
		entry := v1.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, ArtifactType: d.ArtifactType,
			Annotations: map[string]string{refName: tag}}
		idx.Manifests = append(idx.Manifests, entry)
	})
}

// Fetch opens a blob file.
func (s *Store) Fetch(_ context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	f, err := os.Open(s.BlobPath(d.Digest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: blob %s in %s", artifact.ErrNotFound, d.Digest, s.dir)
	}
	return f, err
}

// Resolve finds tag in index.json.
func (s *Store) Resolve(_ context.Context, tag string) (v1.Descriptor, error) {
	idx, err := s.readIndex()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range idx.Manifests {
		if d.Annotations[refName] == tag {
			d.Annotations = nil
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("%w: tag %s in %s", artifact.ErrNotFound, tag, s.dir)
}

// Tags lists the tags of index.json in order of addition.
func (s *Store) Tags(context.Context) ([]string, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var tags []string
	for _, d := range idx.Manifests {
		if t := d.Annotations[refName]; t != "" {
			tags = append(tags, t)
		}
	}
	return tags, nil
}

func (s *Store) readIndex() (v1.IndexManifest, error) {
	var idx v1.IndexManifest
	b, err := os.ReadFile(s.indexPath())
	if err != nil {
		return idx, fmt.Errorf("artifact store: %w", err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("%w: %s: %v", artifact.ErrTampered, s.indexPath(), err)
	}
	return idx, nil
}

// updateIndex applies change to index.json under an exclusive lock.
func (s *Store) updateIndex(change func(*v1.IndexManifest)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	lock, err := os.OpenFile(filepath.Join(s.dir, "index.json.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", s.indexPath(), err)
	}
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	change(&idx)
	return s.writeIndex(idx)
}

func (s *Store) writeIndex(idx v1.IndexManifest) error {
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(s.indexPath(), append(b, '\n'), 0o644)
}
