package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/orchestrate"
	"github.com/belay-dev/belay/internal/release"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/rollout/rollouttest"
	"github.com/belay-dev/belay/internal/secret"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/open"
)

func TestStatusOfMapsSentinels(t *testing.T) {
	for err, want := range map[error]int{
		store.ErrNotFound: 404, store.ErrConflict: 409, orchestrate.ErrOutOfOrder: 409, orchestrate.ErrBadRequest: 422,
		orchestrate.ErrForce: 412, rollout.ErrNotAllowed: 422, errors.New("disk on fire"): 500,
		orchestrate.ErrMalformed: 400, errTooLarge: 413, errMediaType: 415, release.ErrNoArtifact: 404,
	} {
		if got := statusOf(err); got != want {
			t.Errorf("%v: %d, want %d", err, got, want)
		}
	}
}

// noArtifacts is an artifact store that holds nothing.
type noArtifacts struct{}

func (noArtifacts) Verify(_ context.Context, v string) (string, error) {
	return "", fmt.Errorf("%w: %s", release.ErrNoArtifact, v)
}
func (noArtifacts) Open(context.Context, string) (string, error) { return "", os.ErrNotExist }

func (noArtifacts) Refs(_ context.Context, v string) ([]string, error) {
	return nil, fmt.Errorf("%w: %s", release.ErrNoArtifact, v)
}

// apiServer is the API of a server over a real SQLite store, with nothing
// built and no rollout yet.
func apiServer(t *testing.T) *httptest.Server {
	t.Helper()
	s, _ := testServer(t)
	hs, _ := authedServer(t, s)
	return hs
}

// testServer is a server over a real SQLite store holding nothing, with an
// in-memory target, no artifact and a judge that never decides.
func testServer(t *testing.T) (*Server, store.Store) {
	t.Helper()
	st, err := open.Open(context.Background(), "", t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// The example's belay.yaml in a directory of its own, where secrets go.
	b, err := os.ReadFile("../../examples/hello/belay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	project := filepath.Join(dir, "belay.yaml")
	if err := os.WriteFile(project, b, 0o644); err != nil {
		t.Fatal(err)
	}
	secrets := &secret.Store{Keys: secret.Keyring{Dir: filepath.Join(dir, ".belay", "secrets")}, ProjectFile: project, Redactor: &secret.Redactor{}}
	s, err := New(Deps{Store: st, Target: rollouttest.NewTarget(), Artifacts: noArtifacts{}, ProjectFile: project, AuditKey: testAuditKey(t), Secrets: secrets,
		Judge: rollout.JudgeFunc(func(context.Context, rollout.State) (analysis.Verdict, error) { return analysis.Verdict{}, nil })})
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

// authedServer serves s's API as the local CLI reaches it: a request that
// carries no Authorization gets the first admin token, as the CLI adds it;
// one marked X-Test-Anonymous is sent as it is. It returns the admin token.
func authedServer(t *testing.T, s *Server) (*httptest.Server, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := s.FirstAdmin(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	admin := strings.TrimSpace(string(b))
	h := s.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" && r.Header.Get("X-Test-Anonymous") == "" {
			r.Header.Set("Authorization", "Bearer "+admin)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs, admin
}

// TestAPIRefusesBadRequestsByCause: each kind of bad request gets its own
// status and a message that names the cause.
func TestAPIRefusesBadRequestsByCause(t *testing.T) {
	hs := apiServer(t)
	big := `{"service": "hello", "reason": "` + strings.Repeat("x", 2<<20) + `"}`
	for _, c := range []struct {
		name, method, path, ctype, body string
		code                            int
		msg                             string
	}{
		{"malformed JSON", "POST", "/api/v1/releases", "application/json", `{"service": "hello",`, 400,
			"malformed request: request body is not valid JSON: it ends before the object does"},
		{"not JSON at all", "POST", "/api/v1/releases", "application/json", `service=hello`, 400,
			"malformed request: request body is not valid JSON at byte 1: invalid character 's' looking for beginning of value"},
		{"empty body", "POST", "/api/v1/rollouts/1/pause", "application/json", ``, 400,
			"malformed request: request body is empty: send a JSON object"},
		{"two values", "POST", "/api/v1/rollouts/1/pause", "application/json", `{} {}`, 400,
			"malformed request: request body holds more than one JSON value: send a single object"},
		{"unknown field", "POST", "/api/v1/releases", "application/json", `{"service": "hello", "versoin": "x"}`, 400,
			`malformed request: request body: unknown field "versoin"; the fields are service, version, actor, owner, allow_contract, reason, environment, plan_yaml, supersede, adopt`},
		{"unknown field, embedded", "POST", "/api/v1/rollback", "application/json", `{"servcie": "hello"}`, 400,
			`malformed request: request body: unknown field "servcie"; the fields are actor, reason, environment, to, service, accept_contract, force`},
		{"wrong type", "POST", "/api/v1/releases", "application/json", `{"service": 7}`, 400,
			`malformed request: request body: field "service" must be a JSON string, not number`},
		{"too large", "POST", "/api/v1/releases", "application/json", big, 413,
			"request body too large: the limit is 1024 KiB"},
		{"form", "POST", "/api/v1/releases", "application/x-www-form-urlencoded", `service=hello`, 415,
			`unsupported media type: Content-Type "application/x-www-form-urlencoded": the API reads application/json only`},
		{"no content type", "POST", "/api/v1/rollback", "", `{"service": "hello", "actor": "alice@company", "reason": "x"}`, 415,
			`unsupported media type: no Content-Type: send application/json (curl: -H 'Content-Type: application/json')`},
		{"text/plain", "POST", "/api/v1/rollback", "text/plain", `{"service": "hello", "actor": "alice@company", "reason": "x"}`, 415,
			`unsupported media type: Content-Type "text/plain": the API reads application/json only`},
		{"rollout 0", "GET", "/api/v1/rollouts/0", "", ``, 404,
			"not found: rollout ids start at 1, so there is no rollout 0"},
		{"rollout -1", "POST", "/api/v1/rollouts/-1/pause", "application/json", `{"reason": "x"}`, 404,
			"not found: rollout ids start at 1, so there is no rollout -1"},
		{"rollout x", "GET", "/api/v1/rollouts/x", "", ``, 400,
			`malformed request: rollout id "x" is not a number: rollout ids are whole numbers starting at 1`},
		{"release 0", "GET", "/api/v1/releases/0", "", ``, 404,
			"not found: release ids start at 1, so there is no release 0"},
		{"malformed version", "POST", "/api/v1/releases", "application/json", `{"service": "hello", "version": "1.0"}`, 400,
			`invalid release version: release version "1.0" is malformed: versions look like hello-YYYY.MM.DD-shortsha, e.g. hello-2026.05.12-8f3a91c (see ` + "`belay artifacts list`)"},
		{"no artifact", "POST", "/api/v1/releases", "application/json", `{"service": "hello", "version": "hello-2026.05.12-8f3a91c"}`, 404,
			"no such artifact: no artifact hello-2026.05.12-8f3a91c was built or pushed to the artifact store: build it with `belay build hello` at its commit, and see what exists with `belay artifacts list`"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, hs.URL+c.path, strings.NewReader(c.body))
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var e struct{ Error string }
			_ = json.Unmarshal(b, &e)
			if resp.StatusCode != c.code || e.Error != c.msg {
				t.Errorf("%d %s\nwant %d %s", resp.StatusCode, b, c.code, c.msg)
			}
		})
	}
}

// A body of unknown length (chunked) is cut at the limit while it is read.
func TestAPIRefusesALargeChunkedBody(t *testing.T) {
	hs := apiServer(t)
	body := io.MultiReader(strings.NewReader(`{"reason": "`), strings.NewReader(strings.Repeat("x", 8<<20)), strings.NewReader(`"}`))
	req, _ := http.NewRequest("POST", hs.URL+"/api/v1/releases", body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 || !strings.Contains(string(b), "request body too large: the limit is 1024 KiB") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// A web page elsewhere cannot drive the API: the cross-origin
// text/plain POST (what any page may send without a preflight) and even a
// JSON one are refused with 403 before anything runs, and no rollout moves.
func TestAPIRefusesCrossOriginRequests(t *testing.T) {
	hs := apiServer(t)
	for _, c := range []struct {
		name, method, path, ctype string
		hdr                       map[string]string
		code                      int
	}{
		{"text/plain from another origin", "POST", "/api/v1/rollback", "text/plain", map[string]string{"Origin": "https://evil.example"}, 403},
		{"JSON from another origin", "POST", "/api/v1/rollback", "application/json", map[string]string{"Origin": "https://evil.example"}, 403},
		{"read from another origin", "GET", "/api/v1/status", "", map[string]string{"Origin": "http://localhost:3000"}, 403},
		{"cross-site fetch metadata", "POST", "/api/v1/rollback", "application/json", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"events from another origin", "GET", "/api/v1/events", "", map[string]string{"Origin": "null"}, 403},
		{"own origin", "GET", "/api/v1/status", "", map[string]string{"Origin": hs.URL}, 200},
		{"the CLI (no Origin)", "GET", "/api/v1/status", "", nil, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, hs.URL+c.path, strings.NewReader(`{"service": "hello", "actor": "alice@company", "reason": "x"}`))
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			for k, v := range c.hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.code {
				t.Fatalf("%d %s; want %d", resp.StatusCode, b, c.code)
			}
			if c.code == 403 && !strings.Contains(string(b), "cross-origin request refused") {
				t.Errorf("answer %s must say why", b)
			}
		})
	}
}
