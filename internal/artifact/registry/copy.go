package registry

import (
	"context"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// CopyTo copies an artifact (version or sha256: digest) from src, with its
// signatures and SBOM, to the repository repo (REGISTRY/REPO, e.g. an
// environment's registry and the service's name) and returns the reference
// to deploy: repo@sha256:…, the artifact's own digest. Copying again is a
// no-op (Copied.Existing).
func CopyTo(ctx context.Context, src artifact.Store, ref, repo string, opts ...remote.Option) (string, *artifact.Copied, error) {
	dst, err := New(repo, opts...)
	if err != nil {
		return "", nil, err
	}
	c, err := artifact.Copy(ctx, src, ref, dst)
	if err != nil {
		return "", nil, err
	}
	return dst.repo.Digest(c.Digest).String(), c, nil
}
