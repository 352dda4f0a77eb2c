package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/storeurl"
	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// artifactFlags are the flags the artifact verbs share.
type artifactFlags struct {
	file  string   // belay.yaml
	store string   // --store URL, overriding artifacts.store
	keys  []string // --key: trusted public key files (verify) or the signing key (build)
}

// loadProject reads belay.yaml when it exists; the artifact verbs that do
// not build work without one.
func (f *artifactFlags) loadProject(required bool) (*spec.Project, error) {
	if _, err := os.Stat(f.file); errors.Is(err, fs.ErrNotExist) && !required {
		return nil, nil
	}
	return spec.Load(f.file)
}

// openStore opens --store, else belay.yaml's artifacts.store, else the OCI
// layout under the home directory.
func (f *artifactFlags) openStore(g *Globals, p *spec.Project) (artifact.Store, error) {
	u := f.store
	if u == "" && p != nil && p.Artifacts != nil && p.Artifacts.Store != "local" {
		u = p.Artifacts.Store
	}
	return storeurl.Open(u, filepath.Join(g.HomeDir(f.file), "artifacts"))
}

// trustedKeys are --key files plus belay.yaml's artifacts.trusted_keys
// (relative to belay.yaml). With neither, the public keys in the home
// directory's keys/ are trusted, so a single host works out of the box;
// the second result says where the keys came from.
func (f *artifactFlags) trustedKeys(g *Globals, p *spec.Project) ([]artifact.PublicKey, string, error) {
	paths := slices.Clone(f.keys)
	from := "--key"
	if p != nil && p.Artifacts != nil {
		for _, k := range p.Artifacts.TrustedKeys {
			if !filepath.IsAbs(k) {
				k = filepath.Join(filepath.Dir(f.file), k)
			}
			paths = append(paths, k)
		}
		if len(p.Artifacts.TrustedKeys) > 0 {
			from = "artifacts.trusted_keys in " + f.file
		}
	}
	if len(paths) == 0 {
		dir := filepath.Join(g.HomeDir(f.file), "keys")
		paths, _ = filepath.Glob(filepath.Join(dir, "*.pub"))
		from = "the local keys in " + dir + " (no artifacts.trusted_keys in " + f.file + ")"
	}
	keys, err := artifact.LoadPublicKeys(paths...)
	return keys, from, err
}

// buildRequest turns a service of belay.yaml into a build request.
func buildRequest(p *spec.Project, file, name string) (artifact.BuildRequest, error) {
	svc := p.Service(name)
	if svc == nil {
		return artifact.BuildRequest{}, fmt.Errorf("unknown service %q: %s defines %s", name, file, strings.Join(p.ServiceNames(), ", "))
	}
	if svc.Build == nil {
		return artifact.BuildRequest{}, fmt.Errorf("service %s has no build section in %s: add build.command and build.outputs", name, file)
	}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return artifact.BuildRequest{}, err
	}
	return artifact.BuildRequest{
		Dir: dir, Service: name, Command: svc.Build.Command, Outputs: svc.Build.Outputs, Run: runConfig(svc.Run),
		Base: svc.Build.Base,
	}, nil
}

// runConfig maps a service's run section to the image config: a plain
// command becomes the entrypoint (relative paths live under /app); a shell
// line runs through /bin/sh, which only images with a shell have.
func runConfig(r *spec.Run) artifact.RunConfig {
	var rc artifact.RunConfig
	if r == nil {
		return rc
	}
	if strings.ContainsAny(r.Command, " \t|&;<>$`'\"") {
		rc.Entrypoint = []string{"/bin/sh", "-c", r.Command}
	} else {
		rc.Entrypoint = []string{r.Command}
	}
	rc.Cmd = r.Args
	keys := make([]string, 0, len(r.Env))
	for k := range r.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		rc.Env = append(rc.Env, k+"="+r.Env[k])
	}
	if r.Port > 0 {
		rc.Ports = []string{strconv.Itoa(r.Port)}
		rc.Env = append(rc.Env, "PORT="+strconv.Itoa(r.Port))
	}
	return rc
}

// stateEvents stores events in the state store's event log, the outbox the
// server's event sinks deliver from (artifact_published: belay build runs
// outside the server).
type stateEvents struct{ s store.Events }

var _ event.Sink = stateEvents{}

func (e stateEvents) Emit(ctx context.Context, ev event.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", ev.Event, err)
	}
	_, err = e.s.AppendEvent(ctx, b, ev.Time)
	return err
}

// stateRecorder records published artifacts in the state store.
type stateRecorder struct {
	s     store.Artifacts
	where string // the artifact store holding the bytes
}

var _ artifact.Recorder = stateRecorder{}

func (r stateRecorder) RecordArtifact(ctx context.Context, a artifact.Record) error {
	return r.s.RecordArtifact(ctx, store.Artifact{
		Digest: a.Digest, Version: a.Version, Service: a.Service, Commit: a.Commit,
		BuiltAt: a.BuiltAt, CommittedAt: a.CommittedAt, SignerKeyID: a.Signer, Dirty: a.Dirty, StoreRef: r.where,
	})
}
