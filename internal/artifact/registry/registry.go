// Package registry is an artifact.Store in an OCI distribution registry
// repository, through go-containerregistry. Attachments use the referrers
// tag fallback (sha256-<digest>), which registries without the referrers
// API, such as the distribution registry, need.
package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Store is one repository of a registry.
type Store struct {
	repo name.Repository
	opts []remote.Option
}

var _ artifact.Store = (*Store)(nil)

// New returns a store for repository ("host:port/path"). Loopback and
// localhost registries are spoken to over plain HTTP, others over HTTPS.
func New(repository string, opts ...remote.Option) (*Store, error) {
	repo, err := name.NewRepository(repository, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("registry repository %q: %w (want host:port/name)", repository, err)
	}
	return &Store{repo: repo, opts: opts}, nil
}

func (s *Store) String() string { return "oci://" + s.repo.Name() }

func (s *Store) options(ctx context.Context) []remote.Option {
	return append([]remote.Option{remote.WithContext(ctx)}, s.opts...)
}

// PutBlob uploads a blob unless the registry has it.
func (s *Store) PutBlob(ctx context.Context, d v1.Descriptor, r io.Reader) error {
	err := remote.WriteLayer(s.repo, &blob{d: d, r: r}, s.options(ctx)...)
	if err != nil {
		return fmt.Errorf("push blob %s to %v: %w", d.Digest, s, err)
	}
	return nil
}

// PutManifest uploads a manifest by digest, or by tag when tag is set.
func (s *Store) PutManifest(ctx context.Context, d v1.Descriptor, raw []byte, tag string) error {
	var ref name.Reference = s.repo.Digest(d.Digest.String())
	if tag != "" {
		ref = s.repo.Tag(tag)
	}
	if err := remote.Put(ref, rawManifest{raw: raw, mt: d.MediaType}, s.options(ctx)...); err != nil {
		return fmt.Errorf("push manifest %s to %v: %w", ref, s, err)
	}
	return nil
}

// Fetch downloads a manifest or a blob as stored.
func (s *Store) Fetch(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	ref := s.repo.Digest(d.Digest.String())
	if d.MediaType.IsImage() || d.MediaType.IsIndex() {
		desc, err := remote.Get(ref, s.options(ctx)...)
		if err != nil {
			return nil, s.wrap(err, "manifest "+d.Digest.String())
		}
		return io.NopCloser(bytes.NewReader(desc.Manifest)), nil
	}
	l, err := remote.Layer(ref, s.options(ctx)...)
	if err != nil {
		return nil, s.wrap(err, "blob "+d.Digest.String())
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, s.wrap(err, "blob "+d.Digest.String())
	}
	return rc, nil
}

// Resolve reads the manifest descriptor a tag names.
func (s *Store) Resolve(ctx context.Context, tag string) (v1.Descriptor, error) {
	desc, err := remote.Get(s.repo.Tag(tag), s.options(ctx)...)
	if err != nil {
		return v1.Descriptor{}, s.wrap(err, "tag "+tag)
	}
	return desc.Descriptor, nil
}

// Tags lists the repository's tags; a repository never pushed to has none.
func (s *Store) Tags(ctx context.Context) ([]string, error) {
	tags, err := remote.List(s.repo, s.options(ctx)...)
	if err != nil {
		if errors.Is(s.wrap(err, ""), artifact.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("list tags of %v: %w", s, err)
	}
	return tags, nil
}

func (s *Store) wrap(err error, what string) error {
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %s in %v", artifact.ErrNotFound, what, s)
	}
	return fmt.Errorf("%v: %s: %w", s, what, err)
}

// rawManifest pushes manifest bytes exactly as given.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// blob adapts a reader with a known descriptor to the v1.Layer that
// remote.WriteLayer uploads (it reads Compressed once).
type blob struct {
	d v1.Descriptor
	r io.Reader
}

func (b *blob) Digest() (v1.Hash, error)             { return b.d.Digest, nil }
func (b *blob) DiffID() (v1.Hash, error)             { return b.d.Digest, nil }
func (b *blob) Size() (int64, error)                 { return b.d.Size, nil }
func (b *blob) MediaType() (types.MediaType, error)  { return b.d.MediaType, nil }
func (b *blob) Compressed() (io.ReadCloser, error)   { return io.NopCloser(b.r), nil }
func (b *blob) Uncompressed() (io.ReadCloser, error) { return io.NopCloser(b.r), nil }
