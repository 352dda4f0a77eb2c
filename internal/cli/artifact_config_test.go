package cli

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/spec"
)

func TestRunConfig(t *testing.T) {
	for _, tc := range []struct {
		run  *spec.Run
		want artifact.RunConfig
	}{
		{&spec.Run{Command: "bin/hello", Args: []string{"-v"}, Env: map[string]string{"B": "2", "A": "1"}},
			artifact.RunConfig{Entrypoint: []string{"bin/hello"}, Cmd: []string{"-v"}, Env: []string{"A=1", "B=2"}}},
		{&spec.Run{Command: "bin/hello --port $PORT", Port: 8080},
			artifact.RunConfig{Entrypoint: []string{"/bin/sh", "-c", "bin/hello --port $PORT"}, Env: []string{"PORT=8080"}, Ports: []string{"8080"}}},
		{nil, artifact.RunConfig{}},
	} {
		if got := runConfig(tc.run); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("runConfig(%+v) = %+v, want %+v", tc.run, got, tc.want)
		}
	}
}

func TestStateRecorder(t *testing.T) {
	dir := t.TempDir()
	g := &Globals{}
	s, err := g.OpenStore(t.Context(), filepath.Join(dir, "belay.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := stateRecorder{s: s, where: "/x/artifacts"}
	rec := artifact.Record{Digest: "sha256:" + strings.Repeat("ab", 32), Version: "hello-2026.05.12-0123456", Service: "hello",
		Commit: "0123456789", BuiltAt: time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC), Signer: "c4d482157d101d04"}
	if err := r.RecordArtifact(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if err := r.RecordArtifact(t.Context(), rec); err != nil {
		t.Fatalf("recording again: %v", err)
	}
	got, err := s.GetArtifact(t.Context(), rec.Version)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != rec.Digest || got.SignerKeyID != rec.Signer || got.StoreRef != "/x/artifacts" || !got.BuiltAt.Equal(rec.BuiltAt) {
		t.Fatalf("stored %+v", got)
	}
}

// A service's build.base reaches the build request, by digest as written.
func TestBuildRequestBase(t *testing.T) {
	base := "registry.example.com/base@sha256:" + strings.Repeat("ab", 32)
	doc := strings.Replace(fleetYAML, "    run: {command: ./web}\n", "    build: {command: make, outputs: [web], base: "+base+"}\n    run: {command: ./web}\n", 1)
	p, err := spec.ParseProject("belay.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	req, err := buildRequest(p, "belay.yaml", "web")
	if err != nil {
		t.Fatal(err)
	}
	if req.Base != base {
		t.Errorf("base %q, want %q", req.Base, base)
	}
}
