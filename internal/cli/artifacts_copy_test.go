package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/layout"
	"github.com/belay-dev/belay/internal/artifact/storetest"
	"github.com/belay-dev/belay/internal/testenv"
)

// TestArtifactsCopyToEnvironment: `belay artifacts copy V --env production`
// verifies V in the local store and copies it to the environment's
// registry as REGISTRY/SERVICE@digest; a second run writes nothing.
func TestArtifactsCopyToEnvironment(t *testing.T) {
	host := testenv.Registry(t)
	dir := t.TempDir()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	reg := host + "/shop-" + hex.EncodeToString(rnd[:])
	doc := strings.Replace(kubeFleetYAML, `    listen: 0.0.0.0:8080
    hosts:
      - {name: web1, api: 10.0.0.11:7070, token_env: BELAY_TEST_FLEET_TOKEN, ca_file: certs/api.crt}
`, "    target: kubernetes\n    kubernetes: {namespace: shop, registry: "+reg+"}\n", 1)
	file := filepath.Join(dir, "belay.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	kf, err := artifact.CreateKey(filepath.Join(dir, ".belay", "keys"), "belay")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := artifact.LoadSigner(kf.Private)
	if err != nil {
		t.Fatal(err)
	}
	store, err := layout.New(filepath.Join(dir, ".belay", "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	b := storetest.Built(t, "web", "0123456789abcdef0123456789abcdef01234567", "web")
	if _, err := artifact.Publish(context.Background(), store, b, artifact.PublishOptions{Signer: signer}); err != nil {
		t.Fatal(err)
	}
	for i, existing := range []bool{false, true} {
		var out, errOut bytes.Buffer
		root := NewRoot(nil, &out, &errOut)
		root.SetArgs([]string{"artifacts", "copy", b.Meta.Version, "--env", "production", "-f", file, "-o", "json"})
		if err := root.Execute(); err != nil {
			t.Fatalf("copy %d: %v\n%s", i, err, errOut.String())
		}
		var got ArtifactCopied
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		if got.Image != reg+"/web@"+b.Digest.String() || got.Existing != existing || got.Referrers != 2 {
			t.Errorf("copy %d: %+v", i, got)
		}
	}
	var out, errOut bytes.Buffer
	root := NewRoot(nil, &out, &errOut)
	root.SetArgs([]string{"artifacts", "copy", b.Meta.Version, "--env", "staging", "-f", file})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "target: local, which has no registry") {
		t.Errorf("copy to a local environment: %v", err)
	}
}
