package artifact_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/layout"
	"github.com/belay-dev/belay/internal/artifact/storetest"
)

const benchSize = 100 << 20

// benchFile writes 100 MB of pseudo-random (incompressible) bytes; with
// BELAY_BENCH_FILE set it is kept there, to compare with sha256sum.
func benchFile(b *testing.B) string {
	b.Helper()
	p := os.Getenv("BELAY_BENCH_FILE")
	if p == "" {
		p = filepath.Join(b.TempDir(), "blob")
	}
	if st, err := os.Stat(p); err == nil && st.Size() == benchSize {
		return p
	}
	buf := make([]byte, benchSize)
	r := rand.NewChaCha8([32]byte{1})
	_, _ = r.Read(buf)
	if err := os.WriteFile(p, buf, 0o755); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkArtifact100MB packs (tar + gzip + digests) and verifies (every
// blob re-read and hashed, signature checked) a 100 MB artifact.
func BenchmarkArtifact100MB(b *testing.B) {
	src := benchFile(b)
	meta := artifact.Metadata{Service: "big", Version: "big-2026.05.12-0123456", Commit: "0123456789", Created: time.Date(2026, 5, 12, 0, 0, 0, 0, time.UTC)}
	files := []artifact.File{{Name: "big", Source: src}}
	pack := func() *artifact.Built {
		img, err := artifact.Pack(files, artifact.PackOptions{Meta: meta})
		if err != nil {
			b.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			b.Fatal(err)
		}
		return &artifact.Built{Image: img, Digest: d, Meta: meta, SBOM: []byte("{}"), Started: meta.Created, Finished: meta.Created}
	}
	b.Run("pack", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			pack()
		}
	})
	ctx := context.Background()
	s, err := layout.New(filepath.Join(b.TempDir(), "artifacts"))
	if err != nil {
		b.Fatal(err)
	}
	signer := storetest.Key(b)
	if _, err := artifact.Publish(ctx, s, pack(), artifact.PublishOptions{Signer: signer}); err != nil {
		b.Fatal(err)
	}
	b.Run("verify", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			if _, err := artifact.Verify(ctx, s, meta.Version, []artifact.PublicKey{signer.Public()}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
