package artifact_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/layout"
	"github.com/belay-dev/belay/internal/artifact/registry"
	"github.com/belay-dev/belay/internal/artifact/storetest"
	"github.com/belay-dev/belay/internal/testenv"
)

// TestCopyToRegistry: an artifact published in a local layout is copied to
// an environment's registry by digest with its signature and SBOM; it
// verifies there with the same key, its digest unchanged; a second copy
// writes nothing.
func TestCopyToRegistry(t *testing.T) {
	host := testenv.Registry(t)
	ctx := context.Background()
	src, err := layout.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := storetest.Key(t)
	b := storetest.Built(t, "hello", "0123456789abcdef0123456789abcdef01234567", "hi")
	if _, err := artifact.Publish(ctx, src, b, artifact.PublishOptions{Signer: key}); err != nil {
		t.Fatal(err)
	}
	repo := host + "/shop-" + randomName() + "/hello"
	ref, c, err := registry.CopyTo(ctx, src, b.Meta.Version, repo)
	if err != nil {
		t.Fatal(err)
	}
	if ref != repo+"@"+b.Digest.String() || c.Digest != b.Digest.String() || c.Existing || c.Referrers != 2 {
		t.Fatalf("copy gave %s %+v; want %s@%s with 2 referrers", ref, c, repo, b.Digest)
	}
	dst, err := registry.New(repo)
	if err != nil {
		t.Fatal(err)
	}
	trusted := []artifact.PublicKey{key.Public()}
	want, err := artifact.Verify(ctx, src, b.Meta.Version, trusted)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{b.Meta.Version, b.Digest.String()} {
		got, err := artifact.Verify(ctx, dst, r, trusted)
		if err != nil {
			t.Fatalf("verify %s in the registry: %v", r, err)
		}
		if got.Digest != b.Digest.String() || got.Signer != want.Signer || got.SBOM != want.SBOM || got.Blobs != want.Blobs {
			t.Errorf("in the registry %+v, in the layout %+v", got, want)
		}
	}
	tags, err := dst.Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, c2, err := registry.CopyTo(ctx, src, b.Meta.Version, repo)
	if err != nil || again != ref || !c2.Existing {
		t.Fatalf("second copy: %s %+v %v; want a no-op", again, c2, err)
	}
	tags2, _ := dst.Tags(ctx)
	if !slices.Equal(tags, tags2) {
		t.Errorf("tags %v became %v", tags, tags2)
	}
}

// A source blob that no longer matches its digest is not copied, and the
// version is not tagged in the destination; a version already naming other
// bytes there is refused.
func TestCopyRefusesTamperedAndRepointed(t *testing.T) {
	host := testenv.Registry(t)
	ctx := context.Background()
	dir := t.TempDir()
	src, err := layout.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	key := storetest.Key(t)
	b := storetest.Built(t, "hello", "0123456789abcdef0123456789abcdef01234567", "hi")
	if _, err := artifact.Publish(ctx, src, b, artifact.PublishOptions{Signer: key}); err != nil {
		t.Fatal(err)
	}
	repo := host + "/shop-" + randomName() + "/hello"

	m, _ := b.Image.Manifest()
	blob := filepath.Join(dir, "blobs", "sha256", m.Layers[0].Digest.Hex)
	orig, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte{}, orig...)
	bad[len(bad)-1] ^= 0xff
	if err := os.WriteFile(blob, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := registry.CopyTo(ctx, src, b.Meta.Version, repo); !errors.Is(err, artifact.ErrTampered) {
		t.Fatalf("tampered copy: %v", err)
	}
	dst, _ := registry.New(repo)
	if _, err := dst.Resolve(ctx, b.Meta.Version); !errors.Is(err, artifact.ErrNotFound) {
		t.Fatalf("the version was tagged after a failed copy: %v", err)
	}
	if err := os.WriteFile(blob, orig, 0o644); err != nil {
		t.Fatal(err)
	}

	other := storetest.Built(t, "hello", "0123456789abcdef0123456789abcdef01234567", "other bytes")
	if _, err := artifact.Publish(ctx, dst, other, artifact.PublishOptions{Signer: key}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := registry.CopyTo(ctx, src, b.Meta.Version, repo); !errors.Is(err, artifact.ErrExists) || !strings.Contains(err.Error(), "never be re-pointed") {
		t.Fatalf("repointing copy: %v", err)
	}
}
