package server

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/api"
)

// Secrets over the API: set, list, read and remove, each audited without
// the value; bad input is refused saying what and where, and changes
// nothing; every answer hides the values the server knows.
func TestSecretsAPI(t *testing.T) {
	r := newAuthRig(t)
	const value = "correct-horse-battery-staple"
	set := func(env, name, v string) (int, string) {
		return r.call(r.admin, "POST", "/api/v1/secrets/"+env+"/"+name, api.SecretRequest{Value: v, Reason: "rotate"})
	}
	if code, body := set("production", "API_KEY", value); code != 200 || !strings.Contains(body, `"action":"set"`) || !strings.Contains(body, `"fingerprint":"hmac-sha256:`) || strings.Contains(body, value) {
		t.Fatalf("set: %d %s", code, body)
	}
	if code, body := set("production", "API_KEY", value+"2"); code != 200 || !strings.Contains(body, `"action":"replace"`) {
		t.Fatalf("replace: %d %s", code, body)
	}
	code, body := r.call(r.admin, "GET", "/api/v1/secrets/production", nil)
	if code != 200 || !strings.Contains(body, `"names":["API_KEY"]`) || !strings.Contains(body, `"recipient":"age1`) || strings.Contains(body, value) {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, body := r.call(r.admin, "GET", "/api/v1/secrets/production/API_KEY", nil); code != 200 || !strings.Contains(body, `"value":"`+value+`2"`) {
		t.Fatalf("get: %d %s", code, body)
	}
	s := r.secrets()
	file, err := os.ReadFile(s.Path("production"))
	if err != nil || bytes.Contains(file, []byte(value)) || !bytes.HasPrefix(file, []byte("-----BEGIN AGE ENCRYPTED FILE-----")) {
		t.Fatalf("secrets file: %v\n%s", err, file)
	}

	// Bad input: clear errors, nothing written.
	for _, c := range []struct {
		name     string
		code     int
		got      func() (int, string)
		wantText string
	}{
		{"unknown environment", 404, func() (int, string) { return set("qa", "API_KEY", value) }, `environment "qa" is not defined in belay.yaml`},
		{"bad name", 422, func() (int, string) { return set("production", "api-key", value) }, `secret name "api-key" is not an environment variable name`},
		{"short value", 422, func() (int, string) { return set("production", "API_KEY", "short") }, "a secret needs at least 8"},
		{"remove what is not there", 404, func() (int, string) {
			return r.call(r.admin, "POST", "/api/v1/secrets/production/NOPE/remove", api.SecretRequest{Reason: "x"})
		}, "secret NOPE is not set in production"},
		{"value of what is not there", 404, func() (int, string) { return r.call(r.admin, "GET", "/api/v1/secrets/production/NOPE", nil) }, "secrets NOPE are not set in production"},
	} {
		if code, body := c.got(); code != c.code || !strings.Contains(body, c.wantText) {
			t.Errorf("%s: %d %s; want %d %q", c.name, code, body, c.code, c.wantText)
		}
	}
	if after, _ := os.ReadFile(s.Path("production")); !bytes.Equal(after, file) {
		t.Error("a refused change rewrote the secrets file")
	}
	req, _ := http.NewRequest("POST", r.url+"/api/v1/secrets/production/API_KEY", bytes.NewReader(make([]byte, 100<<20)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.admin)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("100 MB body: %v %v; want 413", resp, err)
	}

	// A corrupt file, and one encrypted for another key: refused, named, kept.
	os.WriteFile(s.Path("staging"), []byte("-----BEGIN AGE ENCRYPTED FILE-----\nnot age\n-----END AGE ENCRYPTED FILE-----\n"), 0o644)
	if code, body := set("staging", "API_KEY", value); code != 500 || !strings.Contains(body, "staging.age is not an age-encrypted secrets file") || !strings.Contains(body, "restore it from version control") {
		t.Errorf("corrupt file: %d %s", code, body)
	}
	os.WriteFile(s.Path("staging"), file, 0o644) // production's file: another key
	if code, body := set("staging", "API_KEY", value); code != 500 || !strings.Contains(body, "was encrypted for another key than this server's") {
		t.Errorf("wrongly keyed file: %d %s", code, body)
	}
	if got, _ := os.ReadFile(s.Path("staging")); !bytes.Equal(got, file) {
		t.Error("a refused change rewrote a file it could not read")
	}

	// Audited by fingerprint, never by value; answers hide values anywhere.
	if code, body := r.call(r.admin, "POST", "/api/v1/secrets/production/API_KEY/remove", api.SecretRequest{Reason: "leaked " + value + "2"}); code != 200 {
		t.Fatalf("remove: %d %s", code, body)
	}
	es, err := r.st.AuditSince(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		if strings.HasPrefix(e.Subject, "secret/") {
			actions = append(actions, e.Action+" "+e.Subject)
			if strings.Contains(string(e.Detail), value) {
				t.Errorf("audit detail holds the value: %s", e.Detail)
			}
		}
	}
	if want := "secret.set secret/production/API_KEY,secret.replace secret/production/API_KEY,secret.read secret/production/API_KEY,secret.remove secret/production/API_KEY"; strings.Join(actions, ",") != want {
		t.Errorf("audited %v; want %s", actions, want)
	}
	if code, body := r.call(r.admin, "GET", "/api/v1/audit", nil); code != 200 || strings.Contains(body, value) || !strings.Contains(body, "leaked [redacted API_KEY]") {
		t.Errorf("audit answer shows the value, or nothing of the reason: %d %s", code, body)
	}
}
