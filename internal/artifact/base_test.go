package artifact_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/registry"
	"github.com/belay-dev/belay/internal/artifact/storetest"
	"github.com/belay-dev/belay/internal/testenv"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func randomName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// pushBase pushes a small Docker-format image of two layers (a "libc" and an
// "interpreter") with its own env, user and platform to the test registry,
// and returns it with its by-digest reference.
func pushBase(t *testing.T, host string) (v1.Image, string) {
	t.Helper()
	img := empty.Image
	for _, f := range []struct{ name, body string }{{"lib/libc.so.6", "libc"}, {"usr/bin/python3", "#!interp"}} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
		tw.Close()
		data := buf.Bytes()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = "linux", "arm64", "v8"
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/bin", "LANG=C.UTF-8", "PORT=1"}
	cf.Config.User = "1000"
	cf.Config.Labels = map[string]string{"base": "yes"}
	cf.Config.Entrypoint = []string{"/usr/bin/python3"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(host + "/belay-test/base-" + randomName())
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Tag("latest"), img); err != nil {
		t.Fatal(err)
	}
	return img, repo.Digest(d.String()).String()
}

// appRepo is a git repository whose build writes bin/app without a
// compiler.
func appRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.txt"), []byte("app"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"},
		{"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "first"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2026-05-12T10:00:00Z", "GIT_COMMITTER_DATE=2026-05-12T10:00:00Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	return dir
}

func appRequest(dir, base string) artifact.BuildRequest {
	return artifact.BuildRequest{Dir: dir, Service: "app", Command: "mkdir -p bin && cp app.txt bin/app", Outputs: []string{"bin/app"},
		Run: artifact.RunConfig{Entrypoint: []string{"bin/app"}, Env: []string{"PORT=8080"}, Ports: []string{"8080"}}, Base: base}
}

// TestBuildOnBase: the artifact's layer goes on top of the base's layers
// (same blobs), the config keeps the base's platform, env, user and labels
// with belay's entrypoint, PATH and env layered on, the manifest names the
// base, and the signed provenance records its reference and digest, which
// Verify reports after a publish to a real registry.
func TestBuildOnBase(t *testing.T) {
	host := testenv.Registry(t)
	ctx := context.Background()
	base, ref := pushBase(t, host)
	b, err := artifact.Build(ctx, appRequest(appRepo(t), ref))
	if err != nil {
		t.Fatal(err)
	}
	baseLayers, _ := base.Layers()
	layers, err := b.Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != len(baseLayers)+1 {
		t.Fatalf("%d layers, want the base's %d and one", len(layers), len(baseLayers))
	}
	for i, l := range baseLayers {
		want, _ := l.Digest()
		got, _ := layers[i].Digest()
		if got != want {
			t.Errorf("layer %d is %s, the base's is %s", i, got, want)
		}
	}
	cf, err := b.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != "arm64" || cf.Variant != "v8" {
		t.Errorf("platform %s/%s/%s, want the base's linux/arm64/v8", cf.OS, cf.Architecture, cf.Variant)
	}
	if !slices.Equal(c.Entrypoint, []string{"/app/bin/app"}) || c.User != "1000" || c.WorkingDir != "/app" || c.Labels["base"] != "yes" || c.Labels[artifact.AnnotationVersion] != b.Meta.Version {
		t.Errorf("config %+v", c)
	}
	for _, e := range []string{"PATH=/app:/usr/local/sbin:/usr/bin", "LANG=C.UTF-8", "PORT=8080"} {
		if !slices.Contains(c.Env, e) {
			t.Errorf("env %v lacks %s", c.Env, e)
		}
	}
	if slices.Contains(c.Env, "PORT=1") {
		t.Errorf("env %v keeps the base's PORT under belay's", c.Env)
	}
	m, err := b.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	baseDigest, _ := base.Digest()
	if m.Annotations[artifact.AnnotationBaseDigest] != baseDigest.String() || m.Annotations[artifact.AnnotationBaseName] != ref {
		t.Errorf("annotations %v", m.Annotations)
	}
	for _, l := range m.Layers {
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
			t.Errorf("layer media type %s in an OCI manifest", l.MediaType)
		}
	}

	s, err := registry.New(host + "/belay-test/app-" + randomName())
	if err != nil {
		t.Fatal(err)
	}
	key := storetest.Key(t)
	if _, err := artifact.Publish(ctx, s, b, artifact.PublishOptions{Signer: key}); err != nil {
		t.Fatal(err)
	}
	rep, err := artifact.Verify(ctx, s, b.Meta.Version, []artifact.PublicKey{key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Base == nil || rep.Base.Digest["sha256"] != baseDigest.Hex || rep.Base.URI != "oci://"+ref {
		t.Errorf("provenance base %+v, want %s", rep.Base, ref)
	}
	if rep.Blobs != 2+len(layers)+4 {
		t.Errorf("%d blobs checked", rep.Blobs)
	}
}

// A base by tag is refused with the reason; one that is not in the
// registry fails before the build runs.
func TestBuildBaseRefused(t *testing.T) {
	host := testenv.Registry(t)
	ctx := context.Background()
	dir := appRepo(t)
	_, ref := pushBase(t, host)
	tagged := strings.SplitN(ref, "@", 2)[0] + ":latest"
	for _, c := range []struct{ base, want string }{
		{tagged, "is not by digest: a tag can later name other bytes"},
		{strings.Replace(ref, "@", ":latest@", 1), "has both a tag and a digest"},
		{host + "/belay-test/none-" + randomName() + "@sha256:" + strings.Repeat("0", 64), "MANIFEST_UNKNOWN"},
	} {
		var progress bytes.Buffer
		req := appRequest(dir, c.base)
		req.Progress = &progress
		_, err := artifact.Build(ctx, req)
		if !errors.Is(err, artifact.ErrBase) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("base %s: err %v, want ErrBase with %q", c.base, err, c.want)
		}
		if strings.Contains(progress.String(), "running") {
			t.Errorf("base %s: the build ran:\n%s", c.base, &progress)
		}
	}
}
