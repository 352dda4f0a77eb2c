package release

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/open"
)

// verifier stands in for the artifact store: versions it knows verify, a
// version marked tampered fails as a real verification would.
type verifier map[string]string

func (v verifier) Verify(_ context.Context, version string) (string, error) {
	d, ok := v[version]
	if !ok {
		return "", fmt.Errorf("%w: artifact %s: not found", ErrNoArtifact, version)
	}
	if d == "tampered" {
		return "", fmt.Errorf("artifact %s: layer digest mismatch", version)
	}
	return d, nil
}

const (
	v1 = "hello-2026.05.10-41c2d2a"
	v2 = "hello-2026.05.12-8f3a91c"
)

func setup(t *testing.T) (*spec.Project, store.Store) {
	t.Helper()
	p, err := spec.Load("../../examples/hello/belay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := open.Open(context.Background(), "", t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return p, st
}

func TestFirstReleaseSaysThereIsNoPreviousStable(t *testing.T) {
	p, st := setup(t)
	pl, err := New(context.Background(), p, st, verifier{v1: "sha256:1"}, "hello", v1, Options{Actor: "ana", Now: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.PreviousStable) != 0 || len(pl.Notes) != 2 || !strings.Contains(pl.Notes[0], "first release of hello in staging") {
		t.Fatalf("plan: %+v", pl)
	}
	if pl.Digest != "sha256:1" || pl.Owner != "demo" || pl.Actor != "ana" || len(pl.Triggers) != 3 || pl.MigrationType != "none" {
		t.Fatalf("plan: %+v", pl)
	}
}

func TestPreviousStableResolvedAndVerified(t *testing.T) {
	p, st := setup(t)
	ctx := context.Background()
	for _, env := range []string{"staging", "production"} {
		if err := st.SetStable(ctx, store.StableVersion{Service: "hello", Environment: env, Version: v1, Digest: "sha256:1", At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	pl, err := New(ctx, p, st, verifier{v1: "sha256:1", v2: "sha256:2"}, "hello", v2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if pl.PreviousStable["production"] != v1 || pl.PreviousStable["staging"] != v1 {
		t.Fatalf("previous stable: %v", pl.PreviousStable)
	}
	// A previous stable that no longer verifies is no exit path.
	_, err = New(ctx, p, st, verifier{v1: "tampered", v2: "sha256:2"}, "hello", v2, Options{})
	if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "previous stable "+v1+" in staging does not verify") {
		t.Fatalf("got %v", err)
	}
	// A plan file whose previous_stable disagrees with the store is refused, showing both.
	rp := &spec.ReleasePlan{File: "plan.yaml"}
	rp.Version, _ = spec.ParseVersion(v2)
	rp.PreviousStable, _ = spec.ParseVersion("hello-2026.05.01-0000000")
	_, err = New(ctx, p, st, verifier{v1: "sha256:1", v2: "sha256:2"}, "hello", v2, Options{From: rp})
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "previous_stable hello-2026.05.01-0000000, but the store's stable version of hello in production is "+v1) {
		t.Fatalf("got %v", err)
	}
}

func TestBadInput(t *testing.T) {
	p, st := setup(t)
	ctx := context.Background()
	for _, c := range []struct {
		service, version string
		is               error
		want             string
	}{
		{"api", v1, ErrNoService, `unknown service "api": belay.yaml defines hello`},
		{"hello", "api-2026.05.10-41c2d2a", ErrUnknown, "unknown: version api-2026.05.10-41c2d2a belongs to service api, not hello"},
		{"hello", "1.2.3", spec.ErrVersion, `invalid release version: release version "1.2.3" is malformed: versions look like hello-YYYY.MM.DD-shortsha, e.g. hello-2026.05.12-8f3a91c (see ` + "`belay artifacts list`)"},
		{"hello", "hello-1.2", spec.ErrVersion, `invalid release version: release version "hello-1.2" is malformed: versions look like hello-YYYY.MM.DD-shortsha, e.g. hello-2026.05.12-8f3a91c (see ` + "`belay artifacts list`)"},
		{"hello", v2, ErrNoArtifact, "no such artifact: no artifact " + v2 + " was built or pushed to the artifact store: build it with `belay build hello` at its commit, and see what exists with `belay artifacts list`"},
	} {
		_, err := New(ctx, p, st, verifier{v1: "sha256:1"}, c.service, c.version, Options{})
		if !errors.Is(err, c.is) || err.Error() != c.want {
			t.Errorf("%s %s:\n got %v\nwant %s", c.service, c.version, err, c.want)
		}
	}
}

// The owner is the service's, from belay.yaml; who asks is the actor, and
// owns the release only when nothing else names an owner.
func TestOwnerIsTheServicesActorIsTheCaller(t *testing.T) {
	p, st := setup(t)
	ctx := context.Background()
	pl, err := New(ctx, p, st, verifier{v1: "sha256:1"}, "hello", v1, Options{Actor: "root"})
	if err != nil || pl.Owner != "demo" || pl.Actor != "root" {
		t.Fatalf("owner %q actor %q, %v; want demo and root", pl.Owner, pl.Actor, err)
	}
	p.Service("hello").Owner = ""
	pl, err = New(ctx, p, st, verifier{v1: "sha256:1"}, "hello", v1, Options{Actor: "root"})
	if err != nil || pl.Owner != "root" {
		t.Fatalf("owner %q, %v; want the actor when belay.yaml names no owner", pl.Owner, err)
	}
}

func TestContractMigrationNeedsOverride(t *testing.T) {
	p, st := setup(t)
	p.Service("hello").Migration = &spec.Migration{Type: spec.Contract, Command: "true"}
	_, err := New(context.Background(), p, st, verifier{v1: "sha256:1"}, "hello", v1, Options{})
	if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), "--allow-contract") {
		t.Fatalf("got %v", err)
	}
	pl, err := New(context.Background(), p, st, verifier{v1: "sha256:1"}, "hello", v1, Options{AllowContract: true, Reason: "drop legacy column"})
	if err != nil || !pl.NoRollbackPast() {
		t.Fatalf("got %v %+v", err, pl)
	}
}
