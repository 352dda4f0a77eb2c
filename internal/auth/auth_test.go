package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Every role × scope × action × environment: a role allows what it and the
// roles below it need, only in its environments; actions outside one
// environment need the role everywhere.
func TestPermissionMatrix(t *testing.T) {
	scopes := [][]string{nil, {"staging"}, {"staging", "production"}}
	for _, role := range Roles {
		for _, scope := range scopes {
			id := Identity{Name: "t", Role: role, Environments: scope}
			for _, a := range Actions {
				for _, env := range []string{"", "staging", "production"} {
					err := id.Can(a, env)
					inScope := scope == nil || env != "" && strings.Contains(strings.Join(scope, ","), env)
					want := a == Read || role.rank() >= Need(a).rank() && inScope
					if (err == nil) != want {
						t.Errorf("%s in %v, %s in %q: allowed %v, want %v (%v)", role, scope, a, env, err == nil, want, err)
					}
					if err != nil && (!errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "needs the "+string(Need(a))+" role")) {
						t.Errorf("denial must name the permission: %v", err)
					}
				}
			}
		}
	}
}

// A flag change is a deployer's: flipping a kill switch is part of
// running a release, not administration.
func TestFlagsNeedDeployer(t *testing.T) {
	if got := Need(Flags); got != Deployer {
		t.Errorf("Need(Flags) = %s, want deployer", got)
	}
	viewer := Identity{Name: "v", Role: Viewer}
	if err := viewer.Can(Flags, "production"); !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "may not flags in production: that needs the deployer role in production") {
		t.Errorf("viewer changing a flag: %v", err)
	}
}

func TestTokensHashAndShape(t *testing.T) {
	tok, h, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, Prefix) || len(h) != 32 {
		t.Fatalf("token %q hash %x", tok, h)
	}
	h2, err := Hash(tok)
	if err != nil || string(h2) != string(h) {
		t.Fatalf("hash of the token: %x %v; want %x", h2, err, h)
	}
	tok2, _, _ := NewToken()
	if tok2 == tok {
		t.Fatal("two tokens alike")
	}
	for _, bad := range []string{"", "belay_", "Bearer " + tok, tok + "x", tok[:len(tok)-1], strings.Replace(tok, "belay_", "bel4y_", 1), tok[:len(tok)-1] + "!"} {
		if _, err := Hash(bad); !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "malformed token") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestUsable(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	if err := Usable("ci", time.Time{}, time.Time{}, now); err != nil {
		t.Fatal(err)
	}
	if err := Usable("ci", time.Time{}, now.Add(time.Second), now); err != nil {
		t.Fatal(err)
	}
	if err := Usable("ci", time.Time{}, now, now); err == nil || !strings.Contains(err.Error(), "token ci expired at 2026-12-02T00:00:00Z") {
		t.Fatal(err)
	}
	if err := Usable("ci", now, time.Time{}, now); err == nil || !strings.Contains(err.Error(), "token ci was revoked") {
		t.Fatal(err)
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"ci", "alice@example.com", "deploy-bot_2"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", "a b", strings.Repeat("a", 65), "x/y"} {
		if CheckName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter(3, time.Second)
	now := time.Now()
	for range 3 {
		if b, _ := l.Blocked("a", now); b {
			t.Fatal("blocked within the burst")
		}
		l.Failed("a", now)
	}
	b, wait := l.Blocked("a", now)
	if !b || wait <= 0 || wait > time.Second {
		t.Fatalf("after 3 failures: blocked %v, wait %s", b, wait)
	}
	if b, _ := l.Blocked("other", now); b {
		t.Fatal("another client is blocked too")
	}
	if b, _ := l.Blocked("a", now.Add(time.Second)); b {
		t.Fatal("still blocked a second later")
	}
}
