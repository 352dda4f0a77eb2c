package kubernetes

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/belay-dev/belay/internal/artifact"
	artifactregistry "github.com/belay-dev/belay/internal/artifact/registry"
	"github.com/belay-dev/belay/internal/target"
)

// Images is the target a server drives: before a Desired goes to the
// cluster, each version's artifact (a version or sha256: digest in the
// server's artifact store) is copied, with its signatures and SBOM, to the
// environment's registry (Repository(service)), and the version is
// deployed as REPOSITORY@sha256:…, the artifact's own digest. Copies are
// idempotent and remembered, so each artifact is copied once per process.
type Images struct {
	*Target
	Store artifact.Store
	// Repository is where a service's image goes (spec.Kubernetes.Image).
	Repository func(service string) string
	Options    []remote.Option

	mu     sync.Mutex
	copied map[string]string // repository + " " + artifact → image
}

var (
	_ target.Target  = (*Images)(nil)
	_ target.Drifter = (*Images)(nil)
)

// Apply copies want's artifacts to the registry and applies want with them.
func (m *Images) Apply(ctx context.Context, want target.Desired) error {
	want.Versions = append([]target.Version(nil), want.Versions...)
	for i, v := range want.Versions {
		img, err := m.image(ctx, want.Service, v.Artifact)
		if err != nil {
			return fmt.Errorf("%w: version %s: %v", target.ErrArtifact, v.Version, err)
		}
		want.Versions[i].Artifact = img
	}
	return m.Target.Apply(ctx, want)
}

// image is the reference to deploy artifact by.
func (m *Images) image(ctx context.Context, service, ref string) (string, error) {
	if strings.Contains(ref, "/") && strings.Contains(ref, "@sha256:") {
		return ref, nil // already an image by digest
	}
	repo := m.Repository(service)
	key := repo + " " + ref
	m.mu.Lock()
	img, ok := m.copied[key]
	m.mu.Unlock()
	if ok {
		return img, nil
	}
	if m.Store == nil {
		return "", fmt.Errorf("artifact %s cannot be copied to %s: this server has no artifact store", ref, repo)
	}
	img, _, err := artifactregistry.CopyTo(ctx, m.Store, ref, repo, m.Options...)
	if err != nil {
		return "", fmt.Errorf("copying artifact %s to the environment's registry %s: %w", ref, repo, err)
	}
	m.mu.Lock()
	if m.copied == nil {
		m.copied = map[string]string{}
	}
	m.copied[key] = img
	m.mu.Unlock()
	return img, nil
}
