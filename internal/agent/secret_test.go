package agent

import (
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// An instance gets its secrets as environment variables; what the agent
// shows of it (logs, answers, errors) never holds their values.
func TestSecretsReachInstancesAndAreRedacted(t *testing.T) {
	const value = "s3cret-value-0042"
	a, _ := recorderAgent(t)
	v := recorder("v1", 100, envEcho, "API_KEY")
	v.Run.Secrets = []string{"API_KEY"}
	v.Run.SecretEnv = map[string]string{"API_KEY": value}
	apply(t, a, desired(v))

	files, err := a.LogFiles("test", "hello", "v1")
	if err != nil || len(files) != 1 {
		t.Fatalf("log files %v, %v", files, err)
	}
	waitFor(t, "the instance to log its secret", func() bool {
		b, _ := os.ReadFile(files[0].Path)
		return strings.Contains(string(b), "API_KEY is "+value)
	})
	for _, path := range []string{"/v1/services/test/hello/logs", "/v1/services/test/hello", "/v1/services/test/hello/counters"} {
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if strings.Contains(rec.Body.String(), value) {
			t.Errorf("GET %s shows the secret:\n%s", path, rec.Body)
		}
		if path == "/v1/services/test/hello/logs" && !strings.Contains(rec.Body.String(), "API_KEY is [redacted API_KEY]") {
			t.Errorf("logs: %q; want the value redacted", rec.Body)
		}
	}

	// The agent keeps them, for restarting instances after its own restart,
	// only in its state file, which only its user reads.
	b, err := os.ReadFile(a.statePath())
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(a.statePath()); fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v; it holds secret values: want 0600", fi.Mode().Perm())
	}
	if !strings.Contains(string(b), value) {
		t.Fatal("the state file lacks the secret a restarted agent needs to restart instances")
	}
}
