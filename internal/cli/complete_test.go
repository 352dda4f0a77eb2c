package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/api"
)

// complete runs cobra's hidden __complete as a shell would on tab and
// returns the candidates (without the directive line).
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Main(append([]string{"__complete"}, args...), nil, &out, &errb); code != 0 {
		t.Fatalf("__complete %q: exit %d: %s", args, code, errb.String())
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l != "" && !strings.HasPrefix(l, ":") {
			got = append(got, l)
		}
	}
	return got
}

// fakeServer answers the two lists completion asks for, as a server would.
func fakeServer(t *testing.T) {
	rs := []api.RolloutView{
		{ID: 1, Release: 1, Service: "hello", Environment: "staging", Version: "hello-2026.05.01-aaaaaaa", Phase: "Succeeded"},
		{ID: 2, Release: 1, Service: "hello", Environment: "production", Version: "hello-2026.05.01-aaaaaaa", Phase: "Succeeded"},
		{ID: 3, Release: 2, Service: "hello", Environment: "staging", Version: "hello-2026.05.12-bbbbbbb", Phase: "Canary"},
		{ID: 4, Release: 3, Service: "hello", Environment: "production", Version: "hello-2026.05.13-ccccccc", Phase: "AwaitingApproval"},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/rollouts", func(w http.ResponseWriter, r *http.Request) {
		out := []api.RolloutView{}
		for _, v := range rs {
			if (r.URL.Query().Get("active") != "1" || v.Phase != "Succeeded") && (r.URL.Query().Get("service") == "" || r.URL.Query().Get("service") == v.Service) {
				out = append(out, v)
			}
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("GET /api/v1/queue", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode([]api.QueueView{{ID: 9, Service: "hello", Version: "hello-2026.05.13-ccccccc", Environment: "production", State: "waiting"}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Setenv("BELAY_SERVER", srv.URL)
}

// project copies examples/hello's belay.yaml into a fresh directory.
func project(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "hello", "belay.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "belay.yaml")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestCompletions(t *testing.T) {
	file := project(t)
	fakeServer(t)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"release", "-f", file, ""}, []string{"hello"}},
		{[]string{"build", "-f", file, ""}, []string{"hello"}},
		{[]string{"rollback", "-f", file, "hello", "--env", ""}, []string{"staging", "production"}},
		{[]string{"history", "-f", file, "hello", "--env", ""}, []string{"staging", "production"}},
		// versions the server rolled out, newest first
		{[]string{"release", "-f", file, "hello", ""}, []string{"hello-2026.05.13-ccccccc", "hello-2026.05.12-bbbbbbb", "hello-2026.05.01-aaaaaaa"}},
		{[]string{"rollback", "-f", file, "hello", "--to", ""}, []string{"hello-2026.05.13-ccccccc", "hello-2026.05.12-bbbbbbb", "hello-2026.05.01-aaaaaaa"}},
		{[]string{"explain", ""}, []string{
			"4\thello hello-2026.05.13-ccccccc in production, AwaitingApproval", "3\thello hello-2026.05.12-bbbbbbb in staging, Canary",
			"2\thello hello-2026.05.01-aaaaaaa in production, Succeeded", "1\thello hello-2026.05.01-aaaaaaa in staging, Succeeded"}},
		// only running rollouts can be paused
		{[]string{"pause", ""}, []string{"4\thello hello-2026.05.13-ccccccc in production, AwaitingApproval", "3\thello hello-2026.05.12-bbbbbbb in staging, Canary"}},
		{[]string{"wait", "--release", ""}, []string{"3\thello hello-2026.05.13-ccccccc", "2\thello hello-2026.05.12-bbbbbbb", "1\thello hello-2026.05.01-aaaaaaa"}},
		{[]string{"approve", ""}, []string{"3\thello hello-2026.05.13-ccccccc"}},
		{[]string{"queue", "cancel", ""}, []string{"9\thello hello-2026.05.13-ccccccc for production, waiting"}},
		// one argument only
		{[]string{"explain", "4", ""}, nil},
	} {
		got := complete(t, c.args...)
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("belay __complete %q:\n got %q\nwant %q", c.args, got, c.want)
		}
	}
}

// TestCompletionsWithoutServer: with no server, versions come from the
// artifact store and rollout IDs complete to nothing, without an error.
func TestCompletionsWithoutServer(t *testing.T) {
	file := project(t)
	t.Setenv("BELAY_SERVER", "")
	home := t.TempDir()
	if got := complete(t, "explain", "--home", home, ""); got != nil {
		t.Errorf("explain with no server: %q", got)
	}
	if got := complete(t, "release", "-f", file, "--home", home, "hello", ""); got != nil {
		t.Errorf("release with no server and an empty store: %q", got)
	}
	if got := complete(t, "release", "-f", filepath.Join(home, "none.yaml"), ""); got != nil {
		t.Errorf("release without belay.yaml: %q", got)
	}
	if _, err := os.Stat(filepath.Join(home, "artifacts")); err == nil {
		t.Errorf("completion created the artifact store %s", filepath.Join(home, "artifacts"))
	}
}
