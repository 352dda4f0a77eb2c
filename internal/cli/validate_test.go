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
