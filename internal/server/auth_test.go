package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/secret"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/target"
)

// authRig is a server over a real SQLite store with a release of hello,
// a paused-able rollout and a queue entry in each environment.
type authRig struct {
	t        *testing.T
	srv      *Server
	st       store.Store
	url      string
	admin    string
	release  int64
	rollouts map[string]int64
	queued   map[string]int64
}

func newAuthRig(t *testing.T) *authRig {
	t.Helper()
	ctx := context.Background()
	s, st := testServer(t)
	addFlags(t, s)
	hs, admin := authedServer(t, s)
	r := &authRig{t: t, srv: s, st: st, url: hs.URL, admin: admin, rollouts: map[string]int64{}, queued: map[string]int64{}}
	const v = "hello-2026.05.12-8f3a91c"
	rel, err := st.CreateRelease(ctx, store.Release{Service: "hello", Version: v, Owner: "o", Plan: json.RawMessage(`{}`), CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	r.release = rel.ID
	for _, env := range []string{"staging", "production"} {
		state := rollout.State{Config: rollout.Config{ID: "x", Release: fmt.Sprint(rel.ID), Service: "hello", Environment: env,
			New: target.Version{Version: v}, Strategy: rollout.CanaryStrategy, Steps: rollout.DefaultSteps}, Phase: rollout.Canary}
		b, _ := json.Marshal(state)
		ro, err := st.CreateRollout(ctx, store.Rollout{ReleaseID: rel.ID, Environment: env,
			RolloutState: store.RolloutState{Phase: string(rollout.Canary), State: b}, CreatedAt: time.Now()}, store.Effects{})
		if err != nil {
			t.Fatal(err)
		}
		r.rollouts[env] = ro.ID
		q, err := st.Enqueue(ctx, store.QueueEntry{ReleaseID: rel.ID, Service: "hello", Environment: env, CreatedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		r.queued[env] = q.ID
	}
	return r
}

func (r *authRig) secrets() *secret.Store { return r.srv.d.Secrets }

// call sends a JSON request with token ("" for none) and returns the status and body.
func (r *authRig) call(token, method, path string, body any) (int, string) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token == "" {
		req.Header.Set("X-Test-Anonymous", "1")
	} else {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct{ Error string }
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return resp.StatusCode, e.Error
	}
	return resp.StatusCode, string(b)
}

func (r *authRig) token(name, role string, envs ...string) string {
	r.t.Helper()
	code, body := r.call(r.admin, "POST", "/api/v1/tokens", api.TokenRequest{Name: name, Role: role, Environments: envs, Reason: "test"})
	var t api.TokenCreated
	if code != 200 || json.Unmarshal([]byte(body), &t) != nil || t.Token == "" {
		r.t.Fatalf("token create %s: %d %s", name, code, body)
	}
	return t.Token
}

func (r *authRig) audited() []store.AuditEntry {
	r.t.Helper()
	es, err := r.st.AuditSince(context.Background(), 0, 100000)
	if err != nil {
		r.t.Fatal(err)
	}
	return es
}

func (r *authRig) denials() int {
	r.t.Helper()
	es, err := r.st.AuditSince(context.Background(), 0, 100000)
	if err != nil {
		r.t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if strings.HasPrefix(e.Action, "denied.") {
			n++
		}
	}
	return n
}

// TestPermissionMatrix: every role × scope × API action × environment
// is allowed exactly when the role table says so; a denial is a 403 that
// names the permission, and is audited.
func TestPermissionMatrix(t *testing.T) {
	r := newAuthRig(t)
	least := map[string]string{ // the least role each action needs
		"read": "viewer", "release": "deployer", "pause": "deployer", "resume": "deployer", "abort": "deployer",
		"rollback": "deployer", "cancel": "deployer", "approve": "approver", "promote": "approver", "tokens": "admin", "secrets": "admin",
		"flags": "deployer",
	}
	rank := map[string]int{"viewer": 0, "deployer": 1, "approver": 2, "admin": 3}
	type call struct {
		action, env, method, path string
		body                      any
	}
	calls := []call{{"read", "", "GET", "/api/v1/status", nil}, {"read", "", "GET", "/api/v1/rollouts", nil}, {"tokens", "", "GET", "/api/v1/tokens", nil}}
	for _, env := range []string{"staging", "production"} {
		id := r.rollouts[env]
		reason := api.CommandRequest{Reason: "matrix"}
		calls = append(calls,
			call{"release", env, "POST", "/api/v1/releases", api.ReleaseRequest{Service: "hello", Version: "hello-2026.05.12-8f3a91c", Environment: env}},
			call{"approve", env, "POST", fmt.Sprintf("/api/v1/releases/%d/approve", r.release), api.CommandRequest{Reason: "matrix", Env: env}},
			call{"pause", env, "POST", fmt.Sprintf("/api/v1/rollouts/%d/pause", id), reason},
			call{"resume", env, "POST", fmt.Sprintf("/api/v1/rollouts/%d/resume", id), reason},
			call{"promote", env, "POST", fmt.Sprintf("/api/v1/rollouts/%d/promote", id), reason},
			call{"abort", env, "POST", fmt.Sprintf("/api/v1/rollouts/%d/abort", id), reason},
			call{"rollback", env, "POST", "/api/v1/rollback", api.RollbackRequest{Service: "hello", CommandRequest: api.CommandRequest{Reason: "matrix", Env: env}}},
			call{"cancel", env, "POST", fmt.Sprintf("/api/v1/queue/%d/cancel", r.queued[env]), reason},
			call{"secrets", env, "POST", "/api/v1/secrets/" + env + "/API_KEY", api.SecretRequest{Value: "matrix-value-1", Reason: "matrix"}},
			call{"secrets", env, "GET", "/api/v1/secrets/" + env + "/API_KEY", nil},
			call{"read", env, "GET", "/api/v1/secrets/" + env, nil},
			call{"flags", env, "POST", "/api/v1/flags/" + env + "/checkout_v2/disable", api.FlagRequest{Reason: "matrix"}},
			call{"flags", env, "POST", "/api/v1/flags/" + env + "/banner/set", api.FlagRequest{Variant: "red", Reason: "matrix"}},
			call{"read", env, "GET", "/api/v1/flags?env=" + env, nil},
			call{"read", env, "GET", "/api/v1/flags/" + env + "/checkout_v2", nil},
		)
	}
	scopes := [][]string{nil, {"staging"}, {"production"}}
	denied, writes := 0, map[string]int{}
	for _, role := range []string{"viewer", "deployer", "approver", "admin"} {
		for si, scope := range scopes {
			name := fmt.Sprintf("%s-%d", role, si)
			tok := r.token(name, role, scope...)
			for _, c := range calls {
				inScope := scope == nil || c.env != "" && slices.Contains(scope, c.env)
				want := c.action == "read" || rank[role] >= rank[least[c.action]] && inScope
				before := r.audited()
				code, body := r.call(tok, c.method, c.path, c.body)
				if c.method == "POST" && code < 300 {
					writes[c.action]++
					// Every write done with a token is audited under its name.
					if got := r.audited(); len(got) == len(before) || got[len(got)-1].Actor != name {
						t.Errorf("%s %s by %s succeeded (%d) without an audit entry under its name", c.method, c.path, name, code)
					}
				}
				switch {
				case want && (code == 401 || code == 403):
					t.Errorf("%s in %v may %s in %q, got %d %s", role, scope, c.action, c.env, code, body)
				case !want && code != 403:
					t.Errorf("%s in %v may not %s in %q, got %d %s", role, scope, c.action, c.env, code, body)
				case !want && !strings.Contains(body, "that needs the "+least[c.action]+" role"):
					t.Errorf("denial must name the permission: %s", body)
				case !want:
					denied++
				}
			}
		}
	}
	if got := r.denials(); got != denied {
		t.Errorf("%d denials audited, want %d", got, denied)
	}
	t.Logf("%d calls, %d denied; writes that succeeded, each audited: %v", 4*len(scopes)*len(calls), denied, writes)
}

// Without a usable token nothing answers but /healthz: missing, malformed,
// unknown, revoked and expired tokens get 401 saying why; a token in the
// URL is refused; repeated failures are slowed down with 429.
func TestAuthentication(t *testing.T) {
	r := newAuthRig(t)
	ci := r.token("ci", "deployer", "staging")
	if code, body := r.call(ci, "GET", "/api/v1/whoami", nil); code != 200 || !strings.Contains(body, `"name":"ci"`) {
		t.Fatalf("whoami: %d %s", code, body)
	}
	ghost := "belay_" + strings.Repeat("a", len(ci)-len("belay_"))
	for _, c := range []struct{ name, token, want string }{
		{"none", "", "authentication required: send Authorization: Bearer <token>"},
		{"malformed", "hunter2", "malformed token"},
		{"unknown", ghost, "this token is not one of this server's"},
	} {
		if code, body := r.call(c.token, "GET", "/api/v1/status", nil); code != 401 || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s; want 401 %q", c.name, code, body, c.want)
		}
	}
	if code, body := r.call(r.admin, "POST", "/api/v1/tokens/ci/revoke", api.CommandRequest{Reason: "left"}); code != 200 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if code, body := r.call(ci, "GET", "/api/v1/status", nil); code != 401 || !strings.Contains(body, "token ci was revoked") {
		t.Errorf("revoked: %d %s", code, body)
	}
	code, body := r.call(r.admin, "POST", "/api/v1/tokens", api.TokenRequest{Name: "brief", Role: "viewer", ExpiresIn: "1ns"})
	var brief api.TokenCreated
	if code != 200 || json.Unmarshal([]byte(body), &brief) != nil {
		t.Fatalf("create: %d %s", code, body)
	}
	time.Sleep(time.Millisecond)
	if code, body := r.call(brief.Token, "GET", "/api/v1/status", nil); code != 401 || !strings.Contains(body, "token brief expired at") {
		t.Errorf("expired: %d %s", code, body)
	}
	req, _ := http.NewRequest("GET", r.url+"/api/v1/status?token="+r.admin, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
		t.Errorf("a token in the URL must be refused: %v %v", resp.StatusCode, err)
	}
	if code, _ := r.call("", "GET", "/healthz", nil); code != 200 {
		t.Errorf("healthz needs no token: %d", code)
	}
	if code, body := r.call(r.admin, "POST", "/api/v1/rollback", api.RollbackRequest{Service: "hello", CommandRequest: api.CommandRequest{Actor: "alice@company", Reason: "x", Env: "staging"}}); code != 422 || !strings.Contains(body, "the actor is the token's identity (admin)") {
		t.Errorf("an actor in the body must be refused: %d %s", code, body)
	}
	limited := false
	for range failBurst + 2 {
		if code, _ := r.call(ghost, "GET", "/api/v1/status", nil); code == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("repeated failed authentications were never slowed down")
	}
}

// Bad token requests: an unknown role or environment, a bad lifetime, a
// taken name; a non-admin cannot make tokens.
func TestTokenRequestsChecked(t *testing.T) {
	r := newAuthRig(t)
	for _, c := range []struct {
		req  api.TokenRequest
		code int
		want string
	}{
		{api.TokenRequest{Name: "x", Role: "god"}, 422, `role "god" is unknown`},
		{api.TokenRequest{Name: "x", Role: "viewer", Environments: []string{"prod"}}, 422, `environment "prod" is not in belay.yaml`},
		{api.TokenRequest{Name: "x", Role: "viewer", ExpiresIn: "soon"}, 422, `expires "soon"`},
		{api.TokenRequest{Name: "a b", Role: "viewer"}, 422, `token name "a b"`},
		{api.TokenRequest{Name: "admin", Role: "viewer"}, 409, "admin"},
	} {
		if code, body := r.call(r.admin, "POST", "/api/v1/tokens", c.req); code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%+v: %d %s; want %d %q", c.req, code, body, c.code, c.want)
		}
	}
	dep := r.token("dep", "approver")
	if code, body := r.call(dep, "POST", "/api/v1/tokens", api.TokenRequest{Name: "y", Role: "admin"}); code != 403 || !strings.Contains(body, "needs the admin role") {
		t.Errorf("an approver made a token: %d %s", code, body)
	}
}
