package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/storetest"
	"github.com/belay-dev/belay/internal/testenv"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestStore(t *testing.T) {
	host := testenv.Registry(t)
	storetest.Run(t, func(t *testing.T) artifact.Store {
		s, err := New(host + "/belay-test/" + randomName())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func randomName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Attachments are found by standard clients through the referrers tag
// fallback, once each even though go-containerregistry also maintains it.
func TestReferrersSeenByClients(t *testing.T) {
	host := testenv.Registry(t)
	s, err := New(host + "/belay-test/" + randomName())
	if err != nil {
		t.Fatal(err)
	}
	b := storetest.Built(t, "hello", "0123456789abcdef0123456789abcdef01234567", "hi")
	if _, err := artifact.Publish(context.Background(), s, b, artifact.PublishOptions{Signer: storetest.Key(t)}); err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Referrers(s.repo.Digest(b.Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, d := range m.Manifests {
		types = append(types, d.ArtifactType)
	}
	slices.Sort(types)
	if !slices.Equal(types, []string{artifact.MediaTypeSPDX, artifact.MediaTypeDSSE}) {
		t.Fatalf("referrers %v", types)
	}
}
