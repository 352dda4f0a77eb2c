package artifact_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/layout"
	"github.com/belay-dev/belay/internal/artifact/storetest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// published puts a signed artifact into a fresh layout.
func published(t *testing.T) (*layout.Store, *artifact.Built, *artifact.Signer) {
	t.Helper()
	s, err := layout.New(filepath.Join(t.TempDir(), "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	signer := storetest.Key(t)
	b := storetest.Built(t, "hello", "0123456789abcdef0123456789abcdef01234567", "hello world")
	if _, err := artifact.Publish(context.Background(), s, b, artifact.PublishOptions{Signer: signer}); err != nil {
		t.Fatal(err)
	}
	return s, b, signer
}

// corrupt flips the last byte of a blob file in place.
func corrupt(t *testing.T, s *layout.Store, h v1.Hash) {
	t.Helper()
	p := s.BlobPath(h)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		blob  func(t *testing.T, s *layout.Store, b *artifact.Built, r *artifact.Report) v1.Hash
		names string
	}{
		{"layer", func(t *testing.T, s *layout.Store, b *artifact.Built, _ *artifact.Report) v1.Hash {
			m, _ := b.Image.Manifest()
			return m.Layers[0].Digest
		}, "layer 1 of hello-2026.05.12-0123456 changed"},
		{"config", func(t *testing.T, s *layout.Store, b *artifact.Built, _ *artifact.Report) v1.Hash {
			m, _ := b.Image.Manifest()
			return m.Config.Digest
		}, "config of hello-2026.05.12-0123456 changed"},
		{"manifest", func(t *testing.T, s *layout.Store, b *artifact.Built, _ *artifact.Report) v1.Hash {
			return b.Digest
		}, "manifest of hello-2026.05.12-0123456 changed"},
		{"signature", func(t *testing.T, s *layout.Store, b *artifact.Built, r *artifact.Report) v1.Hash {
			return attachmentBlob(t, s, r, artifact.MediaTypeDSSE)
		}, "signature attachment"},
		{"sbom", func(t *testing.T, s *layout.Store, b *artifact.Built, r *artifact.Report) v1.Hash {
			return attachmentBlob(t, s, r, artifact.MediaTypeSPDX)
		}, "SBOM attachment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, b, signer := published(t)
			trusted := []artifact.PublicKey{signer.Public()}
			r, err := artifact.Verify(ctx, s, b.Meta.Version, trusted)
			if err != nil {
				t.Fatal(err)
			}
			corrupt(t, s, tc.blob(t, s, b, r))
			_, err = artifact.Verify(ctx, s, b.Meta.Version, trusted)
			if !errors.Is(err, artifact.ErrTampered) || !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("Verify after corrupting the %s: %v; want ErrTampered naming %q", tc.name, err, tc.names)
			}
		})
	}
}

// attachmentBlob finds the blob of the attachment of the given type.
func attachmentBlob(t *testing.T, s *layout.Store, r *artifact.Report, artifactType string) v1.Hash {
	t.Helper()
	for _, d := range r.Attachments {
		if d.ArtifactType != artifactType {
			continue
		}
		raw, err := os.ReadFile(s.BlobPath(d.Digest))
		if err != nil {
			t.Fatal(err)
		}
		var m v1.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m.Layers[0].Digest
	}
	t.Fatalf("no %s attachment in %+v", artifactType, r.Attachments)
	return v1.Hash{}
}

func TestVerifyUnsignedAndMissing(t *testing.T) {
	ctx := context.Background()
	s, err := layout.New(filepath.Join(t.TempDir(), "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	b := storetest.Built(t, "hello", "0123456789abcdef0123456789abcdef01234567", "hello")
	// The image alone, tagged, with no attachments.
	m, _ := b.Image.Manifest()
	cfg, _ := b.Image.RawConfigFile()
	put(t, s, m.Config, cfg)
	layers, _ := b.Image.Layers()
	rc, _ := layers[0].Compressed()
	if err := s.PutBlob(ctx, m.Layers[0], rc); err != nil {
		t.Fatal(err)
	}
	raw, _ := b.Image.RawManifest()
	if err := s.PutManifest(ctx, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: b.Digest, Size: int64(len(raw))}, raw, b.Meta.Version); err != nil {
		t.Fatal(err)
	}
	if _, err := artifact.Verify(ctx, s, b.Meta.Version, nil); !errors.Is(err, artifact.ErrUnsigned) {
		t.Fatalf("unsigned artifact: %v, want ErrUnsigned", err)
	}
	if _, err := artifact.Verify(ctx, s, "hello-nope", nil); !errors.Is(err, artifact.ErrNotFound) {
		t.Fatalf("unknown version: %v, want ErrNotFound", err)
	}
	if err := os.Remove(s.BlobPath(m.Layers[0].Digest)); err != nil {
		t.Fatal(err)
	}
	if _, err := artifact.Verify(ctx, s, b.Meta.Version, nil); !errors.Is(err, artifact.ErrTampered) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing layer: %v", err)
	}
}

func put(t *testing.T, s artifact.Store, d v1.Descriptor, b []byte) {
	t.Helper()
	if err := s.PutBlob(context.Background(), d, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyByDigestAndRetaggedVersion(t *testing.T) {
	ctx := context.Background()
	s, b, signer := published(t)
	trusted := []artifact.PublicKey{signer.Public()}
	if r, err := artifact.Verify(ctx, s, b.Digest.String(), trusted); err != nil || r.Version != b.Meta.Version {
		t.Fatalf("verify by digest: %+v, %v", r, err)
	}
	// Pointing another version's tag at this manifest is caught.
	raw, _ := b.Image.RawManifest()
	if err := s.PutManifest(ctx, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: b.Digest, Size: int64(len(raw))}, raw, "hello-2099.01.01-fffffff"); err != nil {
		t.Fatal(err)
	}
	if _, err := artifact.Verify(ctx, s, "hello-2099.01.01-fffffff", trusted); !errors.Is(err, artifact.ErrTampered) {
		t.Fatalf("retagged manifest: %v, want ErrTampered", err)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	s, b, signer := published(t)
	cache := filepath.Join(t.TempDir(), "cache")
	opts := artifact.OpenOptions{Trusted: []artifact.PublicKey{signer.Public()}, CacheDir: cache}
	o, err := artifact.Open(ctx, s, b.Meta.Version, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { artifact.RemoveTree(cache) })
	if o.Dir != filepath.Join(cache, b.Digest.Hex) {
		t.Fatalf("Dir %s, want the digest-named cache entry", o.Dir)
	}
	p := filepath.Join(o.Dir, "app", "hello")
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "hello world" {
		t.Fatalf("unpacked file: %q, %v", got, err)
	}
	st, _ := os.Stat(p)
	dst, _ := os.Stat(filepath.Join(o.Dir, "app"))
	if st.Mode().Perm()&0o222 != 0 || dst.Mode().Perm()&0o222 != 0 {
		t.Fatalf("tree is writable: file %v dir %v", st.Mode(), dst.Mode())
	}
	if o.Report.Config.Entrypoint[0] != "/app/hello" {
		t.Fatalf("config %+v", o.Report.Config)
	}
	again, err := artifact.Open(ctx, s, b.Meta.Version, opts)
	if err != nil || again.Dir != o.Dir {
		t.Fatalf("second Open: %+v, %v", again, err)
	}
	if _, err := artifact.Open(ctx, s, b.Meta.Version, artifact.OpenOptions{CacheDir: cache, Trusted: []artifact.PublicKey{storetest.Key(t).Public()}}); !errors.Is(err, artifact.ErrUntrusted) {
		t.Fatalf("Open with another key trusted: %v, want ErrUntrusted", err)
	}
	// An artifact that no longer verifies is never opened, cached or not.
	m, _ := b.Image.Manifest()
	corrupt(t, s, m.Layers[0].Digest)
	if _, err := artifact.Open(ctx, s, b.Meta.Version, opts); !errors.Is(err, artifact.ErrTampered) {
		t.Fatalf("Open of a tampered artifact: %v", err)
	}
}
