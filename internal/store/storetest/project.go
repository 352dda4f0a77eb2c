package storetest

import (
	"reflect"
	"testing"

	"github.com/belay-dev/belay/internal/store"
)

func testProject(t *testing.T, s store.Store) {
	_, err := s.LastProject(ctx(t))
	wantErr(t, err, store.ErrNotFound, "belay validate")

	first := store.Project{Name: "shop", SpecDigest: "sha256:aa", ValidatedAt: at,
		Services:     []store.Service{{Name: "api"}},
		Environments: []string{"staging", "production"}}
	ok(t, s.SaveProject(ctx(t), first))
	second := store.Project{Name: "shop", SpecDigest: "sha256:bb", ValidatedAt: at.Add(1),
		Services:     []store.Service{{Name: "web"}, {Name: "api"}, {Name: "worker"}},
		Environments: []string{"dev", "staging", "production"}}
	ok(t, s.SaveProject(ctx(t), second))

	got := must(s.LastProject(ctx(t)))
	if !got.ValidatedAt.Equal(norm(second.ValidatedAt)) {
		t.Errorf("validated_at = %v, want %v", got.ValidatedAt, norm(second.ValidatedAt))
	}
	got.ValidatedAt = second.ValidatedAt
	if !reflect.DeepEqual(got, second) {
		t.Errorf("LastProject = %+v, want %+v (order kept)", got, second)
	}
}

func testProjectInvalid(t *testing.T, s store.Store) {
	wantErr(t, s.SaveProject(ctx(t), store.Project{SpecDigest: "sha256:aa"}), store.ErrInvalid, "name")
	dup := store.Project{Name: "shop", SpecDigest: "sha256:aa",
		Services: []store.Service{{Name: "api"}, {Name: "api"}}}
	wantErr(t, s.SaveProject(ctx(t), dup), store.ErrInvalid, `"api" appears twice`)
	// A refused save leaves nothing half-written.
	_, err := s.LastProject(ctx(t))
	wantErr(t, err, store.ErrNotFound)
}
