// Package storetest is the suite every artifact.Store passes: raw blob,
// manifest and tag semantics, then publishing and verifying a signed
// artifact through the store.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/artifact"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Run runs the suite; newStore returns an empty store for each subtest.
func Run(t *testing.T, newStore func(t *testing.T) artifact.Store) {
	t.Run("Blobs", func(t *testing.T) { testBlobs(t, newStore(t)) })
	t.Run("Tags", func(t *testing.T) { testTags(t, newStore(t)) })
	t.Run("PublishVerify", func(t *testing.T) { testPublishVerify(t, newStore(t)) })
}

func desc(mt types.MediaType, b []byte) v1.Descriptor {
	h, n, _ := v1.SHA256(bytes.NewReader(b))
	return v1.Descriptor{MediaType: mt, Digest: h, Size: n}
}

func testBlobs(t *testing.T, s artifact.Store) {
	ctx := context.Background()
	b := []byte("some layer bytes " + t.Name())
	d := desc(types.OCILayer, b)
	if _, err := s.Fetch(ctx, d); !errors.Is(err, artifact.ErrNotFound) {
		t.Fatalf("Fetch of an absent blob: %v, want ErrNotFound", err)
	}
	for range 2 { // the second write is a no-op
		if err := s.PutBlob(ctx, d, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if got := fetch(t, s, d); !bytes.Equal(got, b) {
		t.Fatalf("Fetch = %q, want %q", got, b)
	}
}

func testTags(t *testing.T, s artifact.Store) {
	ctx := context.Background()
	if _, err := s.Resolve(ctx, "v1"); !errors.Is(err, artifact.ErrNotFound) {
		t.Fatalf("Resolve of an absent tag: %v, want ErrNotFound", err)
	}
	tags, err := s.Tags(ctx)
	if err != nil || len(tags) != 0 {
		t.Fatalf("Tags of an empty store = %v, %v", tags, err)
	}
	m1, d1 := manifest(t, s, "one")
	m2, d2 := manifest(t, s, "two")
	if err := s.PutManifest(ctx, d1, m1, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutManifest(ctx, d2, m2, ""); err != nil {
		t.Fatal(err)
	}
	got, err := s.Resolve(ctx, "v1")
	if err != nil || got.Digest != d1.Digest {
		t.Fatalf("Resolve(v1) = %v, %v; want %s", got.Digest, err, d1.Digest)
	}
	if b := fetch(t, s, d2); !bytes.Equal(b, m2) {
		t.Fatal("untagged manifest not fetched back byte for byte")
	}
	if err := s.PutManifest(ctx, d2, m2, "v1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Resolve(ctx, "v1"); got.Digest != d2.Digest {
		t.Fatalf("retagged v1 resolves to %s, want %s", got.Digest, d2.Digest)
	}
	if err := s.PutManifest(ctx, d1, m1, "v0"); err != nil {
		t.Fatal(err)
	}
	tags, _ = s.Tags(ctx)
	slices.Sort(tags)
	if !slices.Equal(tags, []string{"v0", "v1"}) {
		t.Fatalf("Tags = %v, want [v0 v1]", tags)
	}
}

// manifest stores a minimal image (config + one layer) and returns its manifest.
func manifest(t *testing.T, s artifact.Store, content string) ([]byte, v1.Descriptor) {
	t.Helper()
	ctx := context.Background()
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := []byte(content)
	cd, ld := desc(types.OCIConfigJSON, cfg), desc(types.OCILayer, layer)
	if err := s.PutBlob(ctx, cd, bytes.NewReader(cfg)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBlob(ctx, ld, bytes.NewReader(layer)); err != nil {
		t.Fatal(err)
	}
	raw := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		cd.Digest.String() + `","size":` + itoa(cd.Size) + `},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` +
		ld.Digest.String() + `","size":` + itoa(ld.Size) + `}]}`)
	return raw, desc(types.OCIManifestSchema1, raw)
}

func testPublishVerify(t *testing.T, s artifact.Store) {
	ctx := context.Background()
	signer, trusted := Key(t), Key(t)
	b := Built(t, "hello", "0123456789abcdef0123456789abcdef01234567", "hello world")
	p, err := artifact.Publish(ctx, s, b, artifact.PublishOptions{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	if p.Existing || p.Digest != b.Digest.String() {
		t.Fatalf("Publish = %+v", p)
	}
	r, err := artifact.Verify(ctx, s, b.Meta.Version, []artifact.PublicKey{trusted.Public(), signer.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if r.Signer != signer.ID || r.Digest != b.Digest.String() || r.SBOM == "" || r.Blobs != 7 || r.Meta != b.Meta {
		t.Fatalf("Verify report %+v", r)
	}
	// Layers come back byte for byte.
	layers, _ := b.Image.Layers()
	want, _ := layers[0].Compressed()
	wantb, _ := io.ReadAll(want)
	ld, _ := layers[0].Digest()
	if got := fetch(t, s, v1.Descriptor{MediaType: types.OCILayer, Digest: ld}); !bytes.Equal(got, wantb) {
		t.Fatal("layer fetched back differs from the one pushed")
	}
	if _, err := artifact.Verify(ctx, s, b.Meta.Version, []artifact.PublicKey{trusted.Public()}); !errors.Is(err, artifact.ErrUntrusted) {
		t.Fatalf("Verify with the wrong key: %v, want ErrUntrusted", err)
	}
	if p, err := artifact.Publish(ctx, s, b, artifact.PublishOptions{Signer: signer}); err != nil || !p.Existing {
		t.Fatalf("publishing the same content again = %+v, %v; want idempotent", p, err)
	}
	// The same bytes built from a new tag: another signed provenance records it.
	tagged := *b
	tagged.Refs = []string{"refs/tags/v1.0.0"}
	if p, err := artifact.Publish(ctx, s, &tagged, artifact.PublishOptions{Signer: signer}); err != nil || !p.Existing || len(p.RefsAdded) != 1 {
		t.Fatalf("publishing the same content from a new tag = %+v, %v; want the tag added", p, err)
	}
	if r, err := artifact.Verify(ctx, s, b.Meta.Version, []artifact.PublicKey{signer.Public()}); err != nil || len(r.Refs) != 1 || r.Refs[0] != "refs/tags/v1.0.0" {
		t.Fatalf("refs after the new tag: %+v, %v", r, err)
	}
	other := Built(t, "hello", "0123456789abcdef0123456789abcdef01234567", "other bytes")
	_, err = artifact.Publish(ctx, s, other, artifact.PublishOptions{Signer: signer})
	if !errors.Is(err, artifact.ErrExists) || !strings.Contains(err.Error(), b.Digest.String()) || !strings.Contains(err.Error(), other.Digest.String()) {
		t.Fatalf("re-pointing a version: %v; want ErrExists naming both digests", err)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	t.Cleanup(func() { artifact.RemoveTree(cache) })
	o, err := artifact.Open(ctx, s, b.Meta.Version, artifact.OpenOptions{Trusted: []artifact.PublicKey{signer.Public()}, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(o.Dir, "app", "hello")); err != nil || string(got) != "hello world" {
		t.Fatalf("opened tree: %q, %v", got, err)
	}
	list, err := artifact.List(ctx, s)
	if err != nil || len(list) != 1 || list[0].Version != b.Meta.Version || list[0].Signer != signer.ID {
		t.Fatalf("List = %+v, %v", list, err)
	}
}

// Key makes a fresh signing key.
func Key(t testing.TB) *artifact.Signer {
	t.Helper()
	kf, err := artifact.CreateKey(t.TempDir(), "test")
	if err != nil {
		t.Fatal(err)
	}
	s, err := artifact.LoadSigner(kf.Private)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Built packs content as the file "hello" of an artifact for service at commit.
func Built(t testing.TB, service, commit, content string) *artifact.Built {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "hello")
	if err := os.WriteFile(src, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	meta := artifact.Metadata{Service: service, Version: artifact.VersionName(service, created, commit), Commit: commit, Created: created, Source: "https://example.com/hello.git"}
	files := []artifact.File{{Name: "hello", Source: src}}
	img, err := artifact.Pack(files, artifact.PackOptions{Meta: meta, Run: artifact.RunConfig{Entrypoint: []string{"hello"}, Ports: []string{"8080"}}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := artifact.MakeSBOM(meta, files, dir)
	if err != nil {
		t.Fatal(err)
	}
	return &artifact.Built{Image: img, Digest: d, Meta: meta, SBOM: sbom, Started: created, Finished: created.Add(time.Second),
		Request: artifact.BuildRequest{Service: service, Command: "true", Outputs: []string{"hello"}}}
}

func fetch(t *testing.T, s artifact.Store, d v1.Descriptor) []byte {
	t.Helper()
	rc, err := s.Fetch(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
