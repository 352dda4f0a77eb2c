package artifact

import (
	"context"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Store keeps content-addressed blobs and manifests and tags that name
// manifests. It is deliberately raw: Fetch returns bytes as stored, so that
// Verify, written once here, can recompute every digest for every backend.
// Implementations live in subpackages (layout, registry); storetest holds the
// suite each must pass.
type Store interface {
	// PutBlob stores a blob (config, layer, attachment) under desc.Digest; a
	// blob already present is not written again.
	PutBlob(ctx context.Context, desc v1.Descriptor, r io.Reader) error
	// PutManifest stores a manifest or index; tag, when not empty, then
	// names it (replacing what the tag named before: callers check first).
	PutManifest(ctx context.Context, desc v1.Descriptor, raw []byte, tag string) error
	// Fetch returns the stored bytes of a blob or manifest, unverified;
	// ErrNotFound when absent.
	Fetch(ctx context.Context, desc v1.Descriptor) (io.ReadCloser, error)
	// Resolve returns the descriptor of the manifest tag names; ErrNotFound
	// when the tag does not exist.
	Resolve(ctx context.Context, tag string) (v1.Descriptor, error)
	// Tags lists every tag, including referrers fallback tags (sha256-…).
	Tags(ctx context.Context) ([]string, error)
}

// fallbackTag is the OCI referrers tag schema name for a subject: registries
// without the referrers API (the distribution registry among them) and OCI
// layouts keep an index of a manifest's referrers under this tag.
func fallbackTag(d v1.Hash) string { return d.Algorithm + "-" + d.Hex }

// isFallbackTag reports whether tag is a referrers fallback tag, not a version.
func isFallbackTag(tag string) bool {
	return strings.HasPrefix(tag, "sha256-") && len(tag) == len("sha256-")+64
}
