package orchestrate

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/secret"
	"github.com/belay-dev/belay/internal/target"
)

// The environment's log forwarding goes to the target with every desired
// state, its token resolved on the way: the store never holds the token.
func TestLogForwardingReachesTheTarget(t *testing.T) {
	const token = "logs-token-5566778899"
	h := newHarness(t, "    stack:\n      log_forwarding: {url: \"https://logs.example/ingest\", token_secret: LOGS_TOKEN}\n")
	b, err := os.ReadFile(h.file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.file, append([]byte("service_stack: {app_service: enabled, log_forwarding: http}\n"), b...), 0o644); err != nil {
		t.Fatal(err)
	}
	h.o.d.Secrets = &secret.Store{Keys: secret.Keyring{Dir: t.TempDir()}, ProjectFile: h.file, Redactor: &secret.Redactor{}}

	if err := h.o.d.Secrets.Change("staging", func(s secret.Set) error { s["LOGS_TOKEN"] = token; return nil }, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	ans := h.release("api-v1")
	if v := h.settled(ans.Release); v.Outcome != api.OutcomeSucceeded {
		t.Fatalf("release %+v", v)
	}
	// Shipping logs never holds a deployment: with the token's secret gone
	// the next release goes on, and the last setting read stays in force.
	if err := h.o.d.Secrets.Change("staging", func(s secret.Set) error { delete(s, "LOGS_TOKEN"); return nil }, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	ans = h.release("api-v2")
	if v := h.settled(ans.Release); v.Outcome != api.OutcomeSucceeded {
		t.Fatalf("release without the log token's secret %+v", v)
	}
	want := target.LogForward{URL: "https://logs.example/ingest", TokenSecret: "LOGS_TOKEN", Token: token}
	var staging, production int
	for _, d := range h.target.Applied() {
		switch d.Environment {
		case "staging":
			staging++
			if d.Logs == nil || *d.Logs != want {
				t.Errorf("staging desired state's logs %+v, want %+v", d.Logs, want)
			}
		case "production": // its stack names no log forwarding
			production++
			if d.Logs != nil {
				t.Errorf("production desired state's logs %+v, want none", d.Logs)
			}
		}
	}
	if staging == 0 || production == 0 {
		t.Fatalf("applied %d in staging, %d in production", staging, production)
	}
	err = filepath.WalkDir(filepath.Join(filepath.Dir(h.file), ".belay"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(token)) {
			t.Errorf("%s holds the token", path)
		}
		return nil
	})
	if err != nil && !strings.Contains(err.Error(), "no such file") {
		t.Fatal(err)
	}
}

// A server that cannot read the log forwarding and has read none since it
// started (its token's secret missing) asks the target to keep the
// forwarding in force, instead of switching it off.
func TestLogForwardingUnreadableFirstKeepsTheTargets(t *testing.T) {
	h := newHarness(t, "    stack:\n      log_forwarding: {url: \"https://logs.example/ingest\", token_secret: LOGS_TOKEN}\n")
	b, err := os.ReadFile(h.file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.file, append([]byte("service_stack: {app_service: enabled, log_forwarding: http}\n"), b...), 0o644); err != nil {
		t.Fatal(err)
	}
	h.o.d.Secrets = &secret.Store{Keys: secret.Keyring{Dir: t.TempDir()}, ProjectFile: h.file, Redactor: &secret.Redactor{}}
	ans := h.release("api-v1")
	if v := h.settled(ans.Release); v.Outcome != api.OutcomeSucceeded {
		t.Fatalf("release %+v", v)
	}
	var staging int
	for _, d := range h.target.Applied() {
		switch d.Environment {
		case "staging":
			staging++
			if !d.KeepLogs || d.Logs != nil {
				t.Errorf("staging desired state's logs %+v, keep %v; want kept", d.Logs, d.KeepLogs)
			}
		case "production": // read: it names none
			if d.KeepLogs || d.Logs != nil {
				t.Errorf("production desired state's logs %+v, keep %v; want none", d.Logs, d.KeepLogs)
			}
		}
	}
	if staging == 0 {
		t.Fatal("nothing applied in staging")
	}
}
