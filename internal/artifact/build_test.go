package artifact

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// gitRepo makes a repository holding examples/hello, committed at a fixed
// date, and returns its directory.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"main.go", "go.mod"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "hello", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, dir, "git", "init", "-q", "-b", "main")
	commit(t, dir, "first", "2026-05-12T10:00:00Z")
	return dir
}

func commit(t *testing.T, dir, msg, date string) {
	t.Helper()
	run(t, dir, "git", "add", "-A")
	cmd := exec.Command("git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", msg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git commit: %v: %s", err, out)
	}
}

func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func helloRequest(dir string) BuildRequest {
	return BuildRequest{
		Dir: dir, Service: "hello", Command: "go build -o bin/hello .", Outputs: []string{"bin/hello"},
		Run: RunConfig{Entrypoint: []string{"bin/hello"}, Env: []string{"PORT=8080"}, Ports: []string{"8080"}},
	}
}

func TestBuildIsReproducibleAndVersionedByCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds examples/hello with go build")
	}
	ctx := context.Background()
	dir := gitRepo(t)
	first := run(t, dir, "git", "rev-parse", "HEAD")
	a, err := Build(ctx, helloRequest(dir))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(ctx, helloRequest(dir))
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest != b.Digest {
		t.Fatalf("same commit built twice: %s then %s", a.Digest, b.Digest)
	}
	if want := "hello-2026.05.12-" + first[:7]; a.Meta.Version != want || a.Meta.Commit != first || a.Meta.Dirty {
		t.Fatalf("metadata %+v, want version %s", a.Meta, want)
	}
	m, err := a.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Annotations[AnnotationCreated] != "2026-05-12T10:00:00Z" || m.Annotations[AnnotationRevision] != first {
		t.Fatalf("annotations %v", m.Annotations)
	}
	cf, _ := a.Image.ConfigFile()
	if cf.Config.Entrypoint[0] != "/app/bin/hello" || cf.Config.WorkingDir != "/app" || len(cf.Config.ExposedPorts) != 1 {
		t.Fatalf("image config %+v", cf.Config)
	}
	if !strings.Contains(string(a.SBOM), `"pkg:golang/stdlib@go1.`) || !strings.Contains(string(a.SBOM), `"SPDX-2.3"`) {
		t.Fatalf("SBOM lacks the Go build info:\n%s", a.SBOM)
	}
	if out := run(t, dir, "git", "worktree", "list"); strings.Count(out, "\n") != 0 {
		t.Fatalf("build left worktrees behind:\n%s", out)
	}

	if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	commit(t, dir, "second", "2026-05-13T09:00:00Z")
	c, err := Build(ctx, helloRequest(dir))
	if err != nil {
		t.Fatal(err)
	}
	if c.Meta.Version == a.Meta.Version || !strings.HasPrefix(c.Meta.Version, "hello-2026.05.13-") {
		t.Fatalf("second commit version %s (first %s)", c.Meta.Version, a.Meta.Version)
	}
	if c.Digest == a.Digest {
		t.Fatal("another commit gave the same digest")
	}
	req := helloRequest(dir)
	req.Commit = first
	old, err := Build(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if old.Digest != a.Digest {
		t.Fatalf("--commit of the first commit: %s, want %s", old.Digest, a.Digest)
	}
	// Refs go into the provenance, not the image: the same commit built from
	// another ref (or none) keeps its digest and so its version.
	if !slices.Equal(a.Refs, []string{"refs/heads/main"}) || len(old.Refs) != 0 {
		t.Fatalf("refs: HEAD on main %v, the first commit by id %v", a.Refs, old.Refs)
	}
}

func TestBuildErrors(t *testing.T) {
	ctx := context.Background()
	dir := gitRepo(t)

	req := helloRequest(dir)
	req.Command = "echo compiling; echo 'main.go:3: syntax error' >&2; exit 3"
	_, err := Build(ctx, req)
	var be *BuildError
	if !errors.As(err, &be) || !errors.Is(err, ErrBuildFailed) || be.ExitCode != 3 || !strings.Contains(err.Error(), "main.go:3: syntax error") {
		t.Fatalf("failing build: %v", err)
	}

	req = helloRequest(dir)
	req.Command, req.Outputs = "mkdir -p bin && touch bin/other", []string{"bin/hello"}
	if _, err := Build(ctx, req); !errors.Is(err, ErrMissingOutput) || !strings.Contains(err.Error(), `"bin/hello"`) {
		t.Fatalf("missing output: %v", err)
	}

	req = helloRequest(dir)
	req.Commit = "no-such-rev"
	if _, err := Build(ctx, req); err == nil || !strings.Contains(err.Error(), `unknown commit "no-such-rev"`) {
		t.Fatalf("unknown commit: %v", err)
	}

	req = helloRequest(dir)
	req.Command = ""
	if _, err := Build(ctx, req); err == nil || !strings.Contains(err.Error(), "no build command") {
		t.Fatalf("no command: %v", err)
	}

	if _, err := Build(ctx, helloRequest(t.TempDir())); err == nil || !strings.Contains(err.Error(), "not in a git repository") {
		t.Fatalf("not a repository: %v", err)
	}
}

func TestBuildDirtyTree(t *testing.T) {
	ctx := context.Background()
	dir := gitRepo(t)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Untracked files do not make a tree dirty.
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	req := helloRequest(dir)
	req.Command = "mkdir -p bin && cp main.go bin/hello"
	if _, err := Build(ctx, req); !errors.Is(err, ErrDirty) || !strings.Contains(err.Error(), "--allow-dirty") {
		t.Fatalf("dirty tree: %v", err)
	}
	req.AllowDirty = true
	b, err := Build(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := b.Image.Manifest()
	// A dirty build records no ref: no branch or tag holds its content.
	if len(b.Refs) != 0 {
		t.Fatalf("dirty build records refs %v", b.Refs)
	}
	if !b.Meta.Dirty || m.Annotations[AnnotationDirty] != "true" || !strings.HasPrefix(b.Meta.Version, VersionName("hello", b.Meta.Created, b.Meta.Commit)+"-dirty.") {
		t.Fatalf("dirty build not marked: %+v %v", b.Meta, m.Annotations)
	}
	// --commit builds the commit in a clean worktree, dirty tree or not.
	req.AllowDirty, req.Commit = false, "HEAD"
	b, err = Build(ctx, req)
	if err != nil || b.Meta.Dirty || !slices.Equal(b.Refs, []string{"refs/heads/main"}) {
		t.Fatalf("--commit HEAD on a dirty tree: %+v, %v", b, err)
	}
}

func TestSourceDateEpoch(t *testing.T) {
	dir := gitRepo(t)
	req := helloRequest(dir)
	req.Command = `mkdir -p bin && echo "$SOURCE_DATE_EPOCH" > bin/hello`
	b, err := Build(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC); !b.Meta.Created.Equal(want) {
		t.Fatalf("created %v, want %v", b.Meta.Created, want)
	}
	layers, _ := b.Image.Layers()
	rc, _ := layers[0].Uncompressed()
	defer rc.Close()
	dest := t.TempDir()
	if err := untarPlain(rc, dest); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dest, "app", "bin", "hello"))
	if strings.TrimSpace(string(got)) != "1778580000" {
		t.Fatalf("SOURCE_DATE_EPOCH seen by the build: %q", got)
	}
}

func TestBuildProjectInSubdirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sub := filepath.Join(dir, "services", "web")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "page.txt"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "git", "init", "-q", "-b", "main")
	commit(t, dir, "first", "2026-05-12T10:00:00Z")
	req := BuildRequest{Dir: sub, Service: "web", Command: "mkdir -p out && cp page.txt out/ && pwd > out/where", Outputs: []string{"out"}}
	b, err := Build(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := b.Image.Layers()
	rc, _ := layers[0].Uncompressed()
	defer rc.Close()
	dest := t.TempDir()
	if err := untarPlain(rc, dest); err != nil {
		t.Fatal(err)
	}
	where, _ := os.ReadFile(filepath.Join(dest, "app", "out", "where"))
	if !strings.HasSuffix(strings.TrimSpace(string(where)), "/src/services/web") {
		t.Fatalf("build ran in %q, want the worktree's services/web", where)
	}
	if got, _ := os.ReadFile(filepath.Join(dest, "app", "out", "page.txt")); string(got) != "hi" {
		t.Fatalf("page.txt = %q", got)
	}
}

func TestBuildCancelled(t *testing.T) {
	dir := gitRepo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req := helloRequest(dir)
	req.Command = "sleep 30 & sleep 30; wait"
	start := time.Now()
	_, err := Build(ctx, req)
	if !errors.Is(err, ErrBuildFailed) || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("cancelled build: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("cancelled build took %v", d)
	}
	if out := run(t, dir, "git", "worktree", "list"); strings.Count(out, "\n") != 0 {
		t.Fatalf("cancelled build left worktrees behind:\n%s", out)
	}
}
