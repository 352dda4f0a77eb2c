package artifact_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/agent"
	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/layout"
	"github.com/belay-dev/belay/internal/artifact/storetest"
)

// The local agent opens artifacts through this adapter.
var _ agent.Opener = artifact.DirOpener{}

// TestBuiltArtifactRuns builds examples/hello, publishes it, opens it as a
// target would and runs the entrypoint from the unpacked tree.
func TestBuiltArtifactRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/hello with go build")
	}
	ctx := context.Background()
	b, err := artifact.Build(ctx, artifact.HelloRequestForTest(artifact.GitRepoForTest(t)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := layout.New(filepath.Join(t.TempDir(), "artifacts"))
	if err != nil {
		t.Fatal(err)
	}
	signer := storetest.Key(t)
	if _, err := artifact.Publish(ctx, s, b, artifact.PublishOptions{Signer: signer}); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "cache")
	t.Cleanup(func() { artifact.RemoveTree(cache) })
	o, err := artifact.Open(ctx, s, b.Meta.Version, artifact.OpenOptions{Trusted: []artifact.PublicKey{signer.Public()}, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	// As the local agent does: the working directory by digest, then
	// run.command (bin/hello) relative to it.
	wd, err := artifact.DirOpener{Store: s, Options: artifact.OpenOptions{Trusted: []artifact.PublicKey{signer.Public()}, CacheDir: cache}}.Open(ctx, b.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	if wd != filepath.Join(o.Dir, "app") {
		t.Fatalf("working directory %s, want %s/app", wd, o.Dir)
	}
	port := freePort(t)
	entry := o.Report.Config.Entrypoint
	if entry[0] != "/app/bin/hello" {
		t.Fatalf("entrypoint %v", entry)
	}
	cmd := exec.Command(filepath.Join(wd, "bin", "hello"), entry[1:]...)
	cmd.Dir = wd
	cmd.Env = append(os.Environ(), "PORT="+port, "VERSION="+b.Meta.Version)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	body := getWhenUp(t, "http://127.0.0.1:"+port+"/")
	if !strings.Contains(body, b.Meta.Version) {
		t.Fatalf("the running artifact answered %q, want its version %s", body, b.Meta.Version)
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

func getWhenUp(t *testing.T, url string) string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
