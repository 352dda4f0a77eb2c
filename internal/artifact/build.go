package artifact

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// BuildRequest says what to build. The CLI fills it from belay.yaml.
type BuildRequest struct {
	Dir        string   // the project directory (where belay.yaml is), inside a git repository
	Service    string   // service name
	ServiceDir string   // the service's directory relative to Dir ("" for Dir itself)
	Command    string   // run with sh -c in the service directory
	Outputs    []string // files or directories, relative to the service directory
	Run        RunConfig
	Commit     string // commit to build; default HEAD
	AllowDirty bool   // build HEAD's working tree even with uncommitted changes, marking the artifact dirty
	Source     string // .source annotation; default the origin remote's URL
	Progress   io.Writer
	Now        func() time.Time // for provenance timestamps; default time.Now
	// Base, when set, is the image (REGISTRY/REPO@sha256:…) the artifact's
	// layer goes on top of; read with BaseOptions (auth, transport).
	Base        string
	BaseOptions []remote.Option
}

// Built is an artifact ready to publish.
type Built struct {
	Image  v1.Image
	Digest v1.Hash // manifest digest
	Meta   Metadata
	// Refs are the git refs the commit was built from (refs/heads/…,
	// refs/tags/…), recorded in the signed provenance; none for a dirty build,
	// whose content no ref names.
	Refs []string
	SBOM []byte // SPDX 2.3 JSON
	// Base is the image the layer is on (nil: none); its reference and
	// digest are in the signed provenance's resolvedDependencies.
	Base     *Base
	Request  BuildRequest
	Started  time.Time
	Finished time.Time
}

// BuildError is a failed build command, with its exit code and output.
type BuildError struct {
	Command  string
	ExitCode int
	Output   []byte
}

func (e *BuildError) Error() string {
	return fmt.Sprintf("%v: `%s` exited with code %d; its output:\n%s", ErrBuildFailed, e.Command, e.ExitCode, tail(e.Output, 40))
}

func (e *BuildError) Unwrap() error { return ErrBuildFailed }

// Build runs the service's build at a commit in a temporary git worktree
// (or, with AllowDirty on a dirty HEAD, in the working tree itself) and
// packs its outputs.
func Build(ctx context.Context, req BuildRequest) (*Built, error) {
	if req.Now == nil {
		req.Now = time.Now
	}
	if req.Progress == nil {
		req.Progress = io.Discard
	}
	if req.Command == "" {
		return nil, fmt.Errorf("service %s has no build command: set services.%s.build.command in belay.yaml", req.Service, req.Service)
	}
	rev := req.Commit
	if rev == "" {
		rev = "HEAD"
	}
	ci, err := resolveCommit(ctx, req.Dir, rev)
	if err != nil {
		return nil, err
	}
	dirty := false
	if req.Commit == "" {
		if dirty, err = isDirty(ctx, req.Dir); err != nil {
			return nil, err
		}
		if dirty && !req.AllowDirty {
			return nil, fmt.Errorf("%w in %s: commit or stash them, build a commit with --commit, or pass --allow-dirty to build the working tree (the artifact is then marked dirty)", ErrDirty, ci.Toplevel)
		}
	}
	b := &Built{Request: req, Started: req.Now().UTC()}
	if req.Base != "" {
		// Read first: a base that cannot be had fails before the build runs.
		fmt.Fprintf(req.Progress, "build %s: base image %s\n", req.Service, req.Base)
		if b.Base, err = FetchBase(ctx, req.Base, req.BaseOptions...); err != nil {
			return nil, err
		}
	}
	if !dirty {
		if b.Refs, err = sourceRefs(ctx, req.Dir, rev, ci.SHA); err != nil {
			return nil, err
		}
	}
	b.Meta = Metadata{Service: req.Service, Version: VersionName(req.Service, ci.Time, ci.SHA), Commit: ci.SHA, Created: ci.Time, Source: req.Source, Dirty: dirty}
	if b.Meta.Source == "" {
		b.Meta.Source = ci.Source
	}
	projectDir := req.Dir
	if !dirty {
		tree, cleanup, err := checkout(ctx, ci)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		projectDir = filepath.Join(tree, ci.Prefix)
	}
	svcDir := filepath.Join(projectDir, req.ServiceDir)
	fmt.Fprintf(req.Progress, "build %s: %s at %s: running %q\n", req.Service, b.Meta.Version, ci.SHA[:12], req.Command)
	if err := runBuild(ctx, svcDir, req.Command, ci.Time); err != nil {
		return nil, err
	}
	files, err := CollectOutputs(svcDir, req.Outputs)
	if err != nil {
		return nil, err
	}
	if dirty {
		// Uncommitted changes must not take the commit's version name.
		sum, err := contentHash(files)
		if err != nil {
			return nil, err
		}
		b.Meta.Version += "-dirty." + sum[:7]
	}
	fmt.Fprintf(req.Progress, "build %s: packing %d files\n", req.Service, len(files))
	if b.SBOM, err = MakeSBOM(b.Meta, files, svcDir); err != nil {
		return nil, err
	}
	if b.Image, err = Pack(files, PackOptions{Meta: b.Meta, Run: req.Run, Base: b.Base}); err != nil {
		return nil, err
	}
	if b.Digest, err = b.Image.Digest(); err != nil {
		return nil, err
	}
	b.Finished = req.Now().UTC()
	return b, nil
}

// checkout adds a detached worktree of the commit in a temporary directory.
func checkout(ctx context.Context, ci commitInfo) (string, func(), error) {
	tmp, err := os.MkdirTemp("", "belay-build-")
	if err != nil {
		return "", nil, err
	}
	tree := filepath.Join(tmp, "src")
	if _, err := git(ctx, ci.Toplevel, "worktree", "add", "--detach", "--quiet", tree, ci.SHA); err != nil {
		os.RemoveAll(tmp)
		return "", nil, err
	}
	return tree, func() {
		// A fresh context: clean up even when the build was cancelled.
		_, _ = git(context.Background(), ci.Toplevel, "worktree", "remove", "--force", tree)
		os.RemoveAll(tmp)
		_, _ = git(context.Background(), ci.Toplevel, "worktree", "prune")
	}, nil
}

// runBuild runs the build command with SOURCE_DATE_EPOCH set to the commit
// time, and Go builds made reproducible (-trimpath, no cgo) unless the
// environment already says otherwise.
func runBuild(ctx context.Context, dir, command string, commitTime time.Time) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Dir = dir
	env := append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(commitTime.Unix(), 10))
	if goflags := os.Getenv("GOFLAGS"); !strings.Contains(goflags, "-trimpath") {
		env = append(env, strings.TrimSpace("GOFLAGS="+goflags+" -trimpath"))
	}
	if _, ok := os.LookupEnv("CGO_ENABLED"); !ok {
		env = append(env, "CGO_ENABLED=0")
	}
	cmd.Env = env
	// Cancelled, the whole process group goes: sh's children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("%w: `%s` stopped: %v", ErrBuildFailed, command, context.Cause(ctx))
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &BuildError{Command: command, ExitCode: ee.ExitCode(), Output: out.Bytes()}
	}
	if err != nil {
		return fmt.Errorf("%w: `%s` in %s: %v", ErrBuildFailed, command, dir, err)
	}
	return nil
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… (%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// contentHash digests the names and contents of files.
func contentHash(files []File) (string, error) {
	h := sha256.New()
	for _, f := range files {
		fh, err := os.Open(f.Source)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00", f.Name)
		_, err = io.Copy(h, fh)
		fh.Close()
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
