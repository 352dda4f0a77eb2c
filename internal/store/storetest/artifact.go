package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

func artifact(version, digest string, built time.Time) store.Artifact {
	return store.Artifact{Digest: digest, Version: version, Service: "api", Commit: "8f3a91c0ffee",
		BuiltAt: built, SignerKeyID: "ed25519:k1", StoreRef: "oci-layout:.belay/artifacts"}
}

func testArtifact(t *testing.T, s store.Store) {
	a1 := artifact("api-2026.05.12-8f3a91c", "sha256:0a1b", at)
	a2 := artifact("api-2026.05.13-1234567", "sha256:0c2d", at.Add(24*time.Hour))
	a2.Dirty, a2.SignerKeyID = true, ""
	a2.CommittedAt = at.Add(23 * time.Hour) // a1 was recorded without one: it reads back zero
	w := artifact("web-2026.05.13-1234567", "sha256:0e3f", at.Add(time.Hour))
	w.Service = "web"
	for _, a := range []store.Artifact{a1, a2, w, a1} { // a1 twice: idempotent
		ok(t, s.RecordArtifact(ctx(t), a))
	}
	want := a2
	want.BuiltAt, want.CommittedAt = norm(a2.BuiltAt), norm(a2.CommittedAt)
	for _, ref := range []string{a2.Version, a2.Digest} {
		if got := must(s.GetArtifact(ctx(t), ref)); !reflect.DeepEqual(got, want) {
			t.Errorf("GetArtifact(%s) = %+v, want %+v", ref, got, want)
		}
	}
	if got := must(s.GetArtifact(ctx(t), a1.Version)); !got.CommittedAt.IsZero() {
		t.Errorf("an artifact recorded without a commit time reads back %v", got.CommittedAt)
	}
	_, err := s.GetArtifact(ctx(t), "api-2026.01.01-0000000")
	wantErr(t, err, store.ErrNotFound, "api-2026.01.01-0000000")
	_, err = s.GetArtifact(ctx(t), "sha256:ffff")
	wantErr(t, err, store.ErrNotFound, "digest sha256:ffff")

	versions := func(as []store.Artifact) (vs []string) {
		for _, a := range as {
			vs = append(vs, a.Version)
		}
		return vs
	}
	if got := versions(must(s.ListArtifacts(ctx(t), "api"))); !reflect.DeepEqual(got, []string{a2.Version, a1.Version}) {
		t.Errorf("ListArtifacts(api) = %v, want newest first", got)
	}
	if got := versions(must(s.ListArtifacts(ctx(t), ""))); !reflect.DeepEqual(got, []string{a2.Version, w.Version, a1.Version}) {
		t.Errorf("ListArtifacts() = %v", got)
	}
	if got := must(s.ListArtifacts(ctx(t), "nope")); len(got) != 0 {
		t.Errorf("ListArtifacts(nope) = %v, want none", got)
	}
}

func testArtifactConflict(t *testing.T, s store.Store) {
	a := artifact("api-2026.05.12-8f3a91c", "sha256:0a1b", at)
	ok(t, s.RecordArtifact(ctx(t), a))
	b := a
	b.Digest = "sha256:0c2d"
	wantErr(t, s.RecordArtifact(ctx(t), b), store.ErrConflict, a.Version, "sha256:0a1b", "sha256:0c2d")
	if got := must(s.GetArtifact(ctx(t), a.Version)); got.Digest != a.Digest {
		t.Errorf("digest after refused re-point = %s, want %s", got.Digest, a.Digest)
	}
	wantErr(t, s.RecordArtifact(ctx(t), store.Artifact{Version: "v", Service: "api"}), store.ErrInvalid, "digest")
}

// testArtifactConcurrent: many recorders of one version; the same pair never
// fails, and of different digests exactly one is kept.
func testArtifactConcurrent(t *testing.T, s store.Store) {
	const n = 12
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			same := artifact("api-same", "sha256:0a", at)
			if err := s.RecordArtifact(ctx(t), same); err != nil {
				errs[i] = fmt.Errorf("same pair: %w", err)
				return
			}
			errs[i] = s.RecordArtifact(ctx(t), artifact("api-race", fmt.Sprintf("sha256:%02x", i), at))
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d recorders of api-race succeeded, want exactly 1", wins)
	}
}
