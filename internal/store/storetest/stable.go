package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

func testStable(t *testing.T, s store.Store) {
	_, err := s.Stable(ctx(t), "api", "production")
	wantErr(t, err, store.ErrNotFound, "api", "production")
	v1 := store.StableVersion{Service: "api", Environment: "production", Version: "api-1", Digest: "sha256:01", At: at}
	v2 := store.StableVersion{Service: "api", Environment: "production", Version: "api-2", Digest: "sha256:02", At: at.Add(time.Hour)}
	staging := store.StableVersion{Service: "api", Environment: "staging", Version: "api-3", Digest: "sha256:03", At: at}
	for _, v := range []store.StableVersion{v1, v2, staging} {
		ok(t, s.SetStable(ctx(t), v))
	}
	got := must(s.Stable(ctx(t), "api", "production"))
	if got.Version != "api-2" || got.Digest != "sha256:02" || !got.At.Equal(norm(v2.At)) || got.RolloutID != 0 {
		t.Errorf("Stable = %+v, want api-2", got)
	}
	// Rolling back to v1 makes it stable again; history keeps every change.
	ok(t, s.SetStable(ctx(t), v1))
	hist := must(s.StableHistory(ctx(t), "api", "production"))
	var versions []string
	for _, h := range hist {
		versions = append(versions, h.Version)
	}
	if len(versions) != 3 || versions[0] != "api-1" || versions[1] != "api-2" || versions[2] != "api-1" {
		t.Errorf("StableHistory = %v, want [api-1 api-2 api-1]", versions)
	}
	if got := must(s.Stable(ctx(t), "api", "staging")); got.Version != "api-3" {
		t.Errorf("staging stable = %s", got.Version)
	}
	wantErr(t, s.SetStable(ctx(t), store.StableVersion{Service: "api", Environment: "production", Version: "api-4"}),
		store.ErrInvalid, "digest")
	// The two newest of every pair, in one list.
	var latest []string
	for _, v := range must(s.LatestStables(ctx(t), 2)) {
		latest = append(latest, v.Environment+":"+v.Version)
	}
	if got := strings.Join(latest, " "); got != "production:api-1 production:api-2 staging:api-3" {
		t.Errorf("LatestStables(2) = %s, want production:api-1 production:api-2 staging:api-3", got)
	}
	if got := must(s.LatestStables(ctx(t), 1)); len(got) != 2 || got[0].Version != "api-1" || got[0].Digest != "sha256:01" || !got[0].At.Equal(norm(at)) {
		t.Errorf("LatestStables(1) = %+v", got)
	}
	_, err = s.LatestStables(ctx(t), 0)
	wantErr(t, err, store.ErrInvalid, "n must be 1 or more")
}
