package storetest

import (
	"encoding/json"
	"testing"

	"github.com/belay-dev/belay/internal/store"
)

// plan has odd spacing and key order: the engine's JSON must come back as written.
var plan = json.RawMessage(`{"version": "api-2026.05.12-8f3a91c",  "previous_stable":"api-2026.05.10-1111111", "a": [1, 2]}`)

func release(t testing.TB, s store.Store, service, version string) store.Release {
	t.Helper()
	return must(s.CreateRelease(ctx(t), store.Release{Service: service, Version: version,
		Owner: "alice", Plan: plan, CreatedAt: at}))
}

func testRelease(t *testing.T, s store.Store) {
	r1 := release(t, s, "api", "api-2026.05.12-8f3a91c")
	r2 := release(t, s, "api", "api-2026.05.13-1234567")
	if r1.ID == 0 || r2.ID <= r1.ID {
		t.Fatalf("release IDs %d, %d: want increasing, non-zero", r1.ID, r2.ID)
	}
	got := must(s.GetRelease(ctx(t), r1.ID))
	if got.Service != "api" || got.Version != r1.Version || got.Owner != "alice" || !got.CreatedAt.Equal(norm(at)) {
		t.Errorf("GetRelease = %+v, want %+v", got, r1)
	}
	sameJSON(t, "plan", got.Plan, plan)
	_, err := s.GetRelease(ctx(t), r2.ID+100)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.CreateRelease(ctx(t), store.Release{Service: "api", Version: "v", Owner: "alice", Plan: json.RawMessage(`{"a":`)})
	wantErr(t, err, store.ErrInvalid, "release plan")
	_, err = s.CreateRelease(ctx(t), store.Release{Service: "api", Version: "v"})
	wantErr(t, err, store.ErrInvalid, "owner")
}
