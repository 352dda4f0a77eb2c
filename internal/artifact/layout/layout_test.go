package layout

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/storetest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ggcrlayout "github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) artifact.Store {
		s, err := New(filepath.Join(t.TempDir(), "artifacts"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestNewWritesLayoutFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	if _, err := New(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "oci-layout"))
	if err != nil || string(b) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Fatalf("oci-layout = %q, %v", b, err)
	}
	if _, err := New(dir); err != nil { // reopening keeps it
		t.Fatal(err)
	}
}

// A blob whose content does not hash to its digest never takes its name,
// and leaves no temporary file behind.
func TestPutBlobRefusesWrongContent(t *testing.T) {
	s, err := New(filepath.Join(t.TempDir(), "a"))
	if err != nil {
		t.Fatal(err)
	}
	d := v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}}
	err = s.PutBlob(context.Background(), d, strings.NewReader("not the zero hash"))
	if err == nil || !strings.Contains(err.Error(), "content hashes to sha256:") {
		t.Fatalf("got %v", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(s.BlobPath(d.Digest)))
	if len(ents) != 0 {
		t.Fatalf("blobs directory holds %v", ents)
	}
}

// The layout is a standard OCI image layout: go-containerregistry's own
// reader finds the version by its ref.name and validates the image.
func TestReadableByOCITools(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "artifacts")
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := storetest.Built(t, "hello", "0123456789abcdef0123456789abcdef01234567", "hi")
	if _, err := artifact.Publish(context.Background(), s, b, artifact.PublishOptions{Signer: storetest.Key(t)}); err != nil {
		t.Fatal(err)
	}
	idx, err := ggcrlayout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Annotations[refName] != b.Meta.Version {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("image in the layout is not valid: %v", err)
		}
		return
	}
	t.Fatalf("version %s not in index.json: %+v", b.Meta.Version, im.Manifests)
}
