package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

func testRejections(t *testing.T, s store.Store) {
	v1 := release(t, s, "api", "api-2026.05.12-8f3a91c")
	v2 := release(t, s, "api", "api-2026.05.13-1234567")
	staging := rollout(t, s, v1, "staging")
	must(s.Transition(ctx(t), staging.ID, 0, state("RolledBack", true), store.Step{At: at,
		Effects: store.Effects{Reject: &store.Rejection{Reason: "error rate 4%"}}}))
	prod := rollout(t, s, v2, "production")
	explicit := store.Rejection{Service: "api", Version: v2.Version, Environment: "production", RolloutID: prod.ID,
		Reason: "forced", At: at.Add(time.Hour)}
	must(s.Transition(ctx(t), prod.ID, 0, state("RolledBack", true), store.Step{At: at,
		Effects: store.Effects{Reject: &explicit}}))
	// A rejection may name another rollout; its fields default to that one's.
	again := rollout(t, s, v2, "staging")
	must(s.Transition(ctx(t), again.ID, 0, state("Failed", true), store.Step{At: at,
		Effects: store.Effects{Reject: &store.Rejection{RolloutID: staging.ID, Reason: "seen again"}}}))

	r1 := store.Rejection{Service: "api", Version: v1.Version, Environment: "staging", RolloutID: staging.ID, Reason: "error rate 4%", At: norm(at)}
	r2 := explicit
	r2.At = norm(explicit.At)
	r3 := store.Rejection{Service: "api", Version: v1.Version, Environment: "staging", RolloutID: staging.ID, Reason: "seen again", At: norm(at)}
	for _, tc := range []struct {
		service, version string
		want             []store.Rejection
	}{
		{"api", "", []store.Rejection{r1, r2, r3}},
		{"api", v1.Version, []store.Rejection{r1, r3}},
		{"api", v2.Version, []store.Rejection{r2}},
		{"api", "api-2026.01.01-0000000", nil},
		{"web", "", nil},
	} {
		if got := must(s.Rejections(ctx(t), tc.service, tc.version)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Rejections(%s, %q) = %+v, want %+v", tc.service, tc.version, got, tc.want)
		}
	}
	_, err := s.Rejections(ctx(t), "", "")
	wantErr(t, err, store.ErrInvalid, "service")
}
