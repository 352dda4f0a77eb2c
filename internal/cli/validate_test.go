package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/gate/secrets/secretstest"
)

// belay.yaml is committed: belay validate refuses a credential gitleaks'
// rules recognise anywhere in it, comments included, at its position and
// redacted, besides belay.yaml's own check of run.env.
func TestValidateRefusesPlaintextSecrets(t *testing.T) {
	b, err := os.ReadFile("../../examples/hello/belay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	token := secretstest.GitHubToken(11)
	file := filepath.Join(t.TempDir(), "belay.yaml")
	os.WriteFile(file, []byte("# deploy key for CI: "+token+"\n"+string(b)), 0o644)
	var out, errOut bytes.Buffer
	root := NewRoot(nil, &out, &errOut)
	root.SetArgs([]string{"validate", "-f", file})
	if err := root.Execute(); err == nil {
		t.Fatal("a belay.yaml holding a token validated")
	}
	want := file + ":1:22: ghp_*** looks like a secret written in plaintext (gitleaks rule github-pat); belay.yaml is committed"
	if !strings.Contains(errOut.String(), want) || strings.Contains(errOut.String()+out.String(), token) {
		t.Errorf("stderr %q; want %q, and never the token", errOut.String(), want)
	}
	// The example as it is validates.
	os.WriteFile(file, b, 0o644)
	root = NewRoot(nil, &out, &errOut)
	root.SetArgs([]string{"validate", "-f", file})
	if err := root.Execute(); err != nil {
		t.Errorf("the example: %v\n%s", err, errOut.String())
	}
}

// TestValidateChecksStackParameters: validate runs belay plan's checks of
// the stack parameters (without secrets or servers) on environments whose
// stack names a server: an unknown parameter and a bad number are
// problems at their position; the case study's descriptive sizes (no
// server named) still validate.
func TestValidateChecksStackParameters(t *testing.T) {
	y := `project: p
service_stack: {app_service: enabled, database: managed_postgres, cache: redis}
services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: all_at_once}
    rollback_trigger:
      - error_rate > 1% for 5m
    rollback_action: deploy previous_stable
environments:
  - name: staging
    stack:
      database: {admin_url_secret: PG, connection_limit: "ten", size: small}
      cache: {admin_url_secret: RD, password_secret: PW}
`
	file := filepath.Join(t.TempDir(), "belay.yaml")
	os.WriteFile(file, []byte(y), 0o644)
	var out, errOut bytes.Buffer
	root := NewRoot(nil, &out, &errOut)
	root.SetArgs([]string{"validate", "-f", file})
	if err := root.Execute(); err == nil {
		t.Fatal("a stack with an unknown parameter validated")
	}
	if want := file + ":14:71: environments[0].stack.database.size: not a parameter of database managed_postgres"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q; want %q", errOut.String(), want)
	}
	os.WriteFile(file, []byte(strings.Replace(y, ", size: small", "", 1)), 0o644)
	errOut.Reset()
	root = NewRoot(nil, &out, &errOut)
	root.SetArgs([]string{"validate", "-f", file})
	if err := root.Execute(); err == nil || !strings.Contains(errOut.String(), `environments[0].stack.database.connection_limit: "ten" is not a whole number`) {
		t.Errorf("a bad number: %v, stderr %q", err, errOut.String())
	}
	for _, f := range []string{"../../examples/case-study/belay.yaml"} {
		errOut.Reset()
		root = NewRoot(nil, &out, &errOut)
		root.SetArgs([]string{"validate", "-f", f})
		if err := root.Execute(); err != nil {
			t.Errorf("%s: %v\n%s", f, err, errOut.String())
		}
	}
}
