package storetest

import (
	"crypto/sha256"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// newToken is a deployer token for staging and production, expiring in 30 days.
func newToken(name, secret string) store.Token {
	return store.Token{Name: name, Role: "deployer", Environments: []string{"staging", "production"},
		Hash: hash(secret), CreatedBy: "alice", Created: at, Expires: at.Add(30 * 24 * time.Hour)}
}

// testToken: a token reads back the same by hash, by name and in the list,
// with its expiry and environments (empty: all), and its creation is audited.
func testToken(t *testing.T, s store.Store) {
	if got := must(s.ListTokens(ctx(t))); len(got) != 0 {
		t.Fatalf("tokens of a new store: %v", got)
	}
	ci := must(s.CreateToken(ctx(t), newToken("ci", "s3cret-ci"), "for the pipeline"))
	admin := must(s.CreateToken(ctx(t), store.Token{Name: "admin", Role: "admin", Environments: []string{},
		Hash: hash("s3cret-admin"), CreatedBy: "belay", Created: at.Add(time.Second)}, "first admin token"))
	if ci.ID == 0 || admin.ID == 0 || ci.ID == admin.ID {
		t.Fatalf("IDs %d and %d, want two distinct ones", ci.ID, admin.ID)
	}
	want := newToken("ci", "s3cret-ci")
	want.ID, want.Created, want.Expires = ci.ID, norm(want.Created), norm(want.Expires)
	if !reflect.DeepEqual(ci, want) {
		t.Errorf("CreateToken = %+v, want %+v", ci, want)
	}
	if admin.Environments != nil || !admin.Expires.IsZero() || !admin.Revoked.IsZero() {
		t.Errorf("admin token = %+v, want no environments (all), no expiry, not revoked", admin)
	}
	for _, w := range []store.Token{ci, admin} {
		if got := must(s.TokenByHash(ctx(t), w.Hash)); !reflect.DeepEqual(got, w) {
			t.Errorf("TokenByHash = %+v, want %+v", got, w)
		}
		if got := must(s.TokenByName(ctx(t), w.Name)); !reflect.DeepEqual(got, w) {
			t.Errorf("TokenByName(%q) = %+v, want %+v", w.Name, got, w)
		}
	}
	if got := must(s.ListTokens(ctx(t))); !reflect.DeepEqual(got, []store.Token{ci, admin}) {
		t.Errorf("ListTokens = %+v, want ci then admin", got)
	}
	_, err := s.TokenByHash(ctx(t), hash("unknown"))
	wantErr(t, err, store.ErrNotFound, "hash")
	_, err = s.TokenByName(ctx(t), "nope")
	wantErr(t, err, store.ErrNotFound, `"nope"`)

	audit := must(s.AuditSince(ctx(t), 0, 10))
	if len(audit) != 2 {
		t.Fatalf("audit = %+v, want one entry per token", audit)
	}
	a := audit[0]
	if a.Action != "token.create" || a.Subject != "token/"+itoa(ci.ID) || a.Actor != "alice" ||
		a.Reason != "for the pipeline" || !a.At.Equal(norm(at)) {
		t.Errorf("audit entry = %+v, want alice's token.create of token/%d", a, ci.ID)
	}
	sameJSON(t, "audit detail", a.Detail, []byte(`{"name":"ci","role":"deployer",`+
		`"environments":["staging","production"],"expires":"2026-06-11T08:30:00.123456Z"}`))
	if b := audit[1]; b.Actor != "belay" || b.Subject != "token/"+itoa(admin.ID) {
		t.Errorf("audit entry = %+v, want belay's creation of token/%d", b, admin.ID)
	}
	sameJSON(t, "audit detail", audit[1].Detail, []byte(`{"name":"admin","role":"admin","environments":[],"expires":null}`))
}

// testTokenConflict: a live name or any stored hash cannot be stored again,
// and a refused token leaves nothing behind; a revoked token's name is free.
func testTokenConflict(t *testing.T, s store.Store) {
	ci := must(s.CreateToken(ctx(t), newToken("ci", "one"), ""))
	_, err := s.CreateToken(ctx(t), newToken("ci", "two"), "")
	wantErr(t, err, store.ErrConflict, `"ci"`, "not revoked")
	_, err = s.CreateToken(ctx(t), newToken("deploy", "one"), "")
	wantErr(t, err, store.ErrConflict, `"deploy"`, "hash", `"ci"`)
	if got := must(s.ListTokens(ctx(t))); len(got) != 1 {
		t.Errorf("tokens after conflicts = %+v, want only ci", got)
	}
	if audit := must(s.AuditSince(ctx(t), 0, 10)); len(audit) != 1 {
		t.Errorf("audit after conflicts = %+v, want only ci's creation", audit)
	}

	must(s.RevokeToken(ctx(t), ci.ID, "bob", "leaked", at.Add(time.Minute)))
	_, err = s.CreateToken(ctx(t), newToken("ci", "one"), "")
	wantErr(t, err, store.ErrConflict, "hash") // a revoked token's hash stays taken
	ci2 := must(s.CreateToken(ctx(t), newToken("ci", "two"), "rotated"))
	if got := must(s.TokenByName(ctx(t), "ci")); got.ID != ci2.ID || !got.Revoked.IsZero() {
		t.Errorf("TokenByName(ci) = %+v, want the new token %d", got, ci2.ID)
	}
	if got := must(s.TokenByHash(ctx(t), hash("one"))); got.ID != ci.ID || got.Revoked.IsZero() {
		t.Errorf("TokenByHash(old) = %+v, want revoked token %d", got, ci.ID)
	}
	_, err = s.CreateToken(ctx(t), newToken("ci", "three"), "")
	wantErr(t, err, store.ErrConflict, `"ci"`, itoa(ci2.ID))
}

func testTokenInvalid(t *testing.T, s store.Store) {
	for _, tc := range []struct {
		edit func(*store.Token)
		want string
	}{
		{func(t *store.Token) { t.Name = "" }, "name"},
		{func(t *store.Token) { t.Role = "" }, "role"},
		{func(t *store.Token) { t.CreatedBy = "" }, "creator"},
		{func(t *store.Token) { t.Hash = t.Hash[:16] }, "32-byte"},
		{func(t *store.Token) { t.Environments = []string{"staging", ""} }, "empty environment"},
		{func(t *store.Token) { t.Revoked, t.RevokedBy = at, "bob" }, "revoked"},
	} {
		tok := newToken("ci", "s3cret")
		tc.edit(&tok)
		_, err := s.CreateToken(ctx(t), tok, "")
		wantErr(t, err, store.ErrInvalid, tc.want)
	}
	if got := must(s.ListTokens(ctx(t))); len(got) != 0 {
		t.Errorf("tokens after invalid ones = %+v", got)
	}
}

// testTokenRevoke: revoking records who and when with an audit entry, once.
func testTokenRevoke(t *testing.T, s store.Store) {
	ci := must(s.CreateToken(ctx(t), newToken("ci", "s3cret"), ""))
	revokedAt := at.Add(time.Hour)
	got := must(s.RevokeToken(ctx(t), ci.ID, "bob", "leaked in a log", revokedAt))
	want := ci
	want.Revoked, want.RevokedBy = norm(revokedAt), "bob"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RevokeToken = %+v, want %+v", got, want)
	}
	if again := must(s.RevokeToken(ctx(t), ci.ID, "carol", "again", revokedAt.Add(time.Hour))); !reflect.DeepEqual(again, want) {
		t.Errorf("revoking again = %+v, want the first revocation %+v", again, want)
	}
	if byHash := must(s.TokenByHash(ctx(t), ci.Hash)); !reflect.DeepEqual(byHash, want) {
		t.Errorf("TokenByHash of a revoked token = %+v, want %+v", byHash, want)
	}
	audit := must(s.AuditSince(ctx(t), 0, 10))
	if len(audit) != 2 {
		t.Fatalf("audit = %+v, want the creation and one revocation", audit)
	}
	if a := audit[1]; a.Action != "token.revoke" || a.Subject != "token/"+itoa(ci.ID) || a.Actor != "bob" ||
		a.Reason != "leaked in a log" || !a.At.Equal(norm(revokedAt)) {
		t.Errorf("audit entry = %+v, want bob's token.revoke of token/%d", a, ci.ID)
	}

	_, err := s.RevokeToken(ctx(t), ci.ID+100, "bob", "", at)
	wantErr(t, err, store.ErrNotFound, itoa(ci.ID+100))
	_, err = s.RevokeToken(ctx(t), ci.ID, "", "", at)
	wantErr(t, err, store.ErrInvalid, "revoker")
	_, err = s.RevokeToken(ctx(t), ci.ID, "bob", "", time.Time{})
	wantErr(t, err, store.ErrInvalid, "time")
	if n := len(must(s.AuditSince(ctx(t), 0, 10))); n != 2 {
		t.Errorf("%d audit entries after refused revocations, want 2", n)
	}
}

// testTokenCreateConcurrent: of writers racing for one name, exactly one
// wins; the others get ErrConflict, not a raw database error.
func testTokenCreateConcurrent(t *testing.T, s store.Store) {
	const writers = 8
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, err := s.CreateToken(ctx(t), newToken("ci", "secret-"+itoa(int64(i))), "")
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("writer %d: %v, want nil or ErrConflict", i, err)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("%d writers created the token, want 1", n)
	}
	if n := len(must(s.AuditSince(ctx(t), 0, 100))); n != 1 {
		t.Errorf("%d audit entries, want 1", n)
	}
}
