package storetest

import (
	"reflect"
	"testing"

	"github.com/belay-dev/belay/internal/store"
)

func testListRollouts(t *testing.T, s store.Store) {
	api1 := release(t, s, "api", "api-2026.05.12-8f3a91c")
	api2 := release(t, s, "api", "api-2026.05.13-1234567")
	web := release(t, s, "web", "web-2026.05.12-8f3a91c")
	a := rollout(t, s, api1, "staging")
	must(s.Transition(ctx(t), a.ID, 0, state("Succeeded", true), store.Step{At: at}))
	b := rollout(t, s, api1, "production")
	c := rollout(t, s, api2, "staging")
	d := rollout(t, s, web, "staging")

	ids := func(rs []store.Rollout) (out []int64) {
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	for _, tc := range []struct {
		f    store.RolloutFilter
		want []int64
	}{
		{store.RolloutFilter{}, []int64{a.ID, b.ID, c.ID, d.ID}},
		{store.RolloutFilter{Active: true}, []int64{b.ID, c.ID, d.ID}},
		{store.RolloutFilter{Service: "api"}, []int64{a.ID, b.ID, c.ID}},
		{store.RolloutFilter{Service: "api", Environment: "staging"}, []int64{a.ID, c.ID}},
		{store.RolloutFilter{Active: true, Environment: "staging"}, []int64{c.ID, d.ID}},
		{store.RolloutFilter{Service: "nope"}, nil},
		{store.RolloutFilter{Release: api1.ID}, []int64{a.ID, b.ID}},
		{store.RolloutFilter{Release: api1.ID, Active: true}, []int64{b.ID}},
		{store.RolloutFilter{Release: api2.ID, Environment: "staging"}, []int64{c.ID}},
		{store.RolloutFilter{Release: web.ID, Environment: "production"}, nil},
	} {
		if got := ids(must(s.ListRollouts(ctx(t), tc.f))); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ListRollouts(%+v) = %v, want %v", tc.f, got, tc.want)
		}
	}
	if got := ids(must(s.History(ctx(t), "api", "staging"))); !reflect.DeepEqual(got, []int64{c.ID, a.ID}) {
		t.Errorf("History(api, staging) = %v, want newest first", got)
	}
	if got := must(s.History(ctx(t), "api", "dev")); len(got) != 0 {
		t.Errorf("History(api, dev) = %v, want none", got)
	}
}
