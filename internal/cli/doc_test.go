package cli

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// docs/cli.md is generated from the command tree; a verb, flag or output
// type that changes without it fails here.
func TestCLIDocCurrent(t *testing.T) {
	for _, kv := range os.Environ() { // flag defaults read BELAY_* variables
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "BELAY_") {
			t.Setenv(k, "")
		}
	}
	var b bytes.Buffer
	if err := WriteCLIDoc(&b); err != nil {
		t.Fatal(err)
	}
	const path = "../../docs/cli.md"
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(have, b.Bytes()) {
		t.Fatalf("docs/cli.md is stale (%v): run go test ./internal/cli -run TestCLIDocCurrent -update", err)
	}
}

// Every runnable verb that answers in JSON is documented; a new verb must
// say what -o json prints.
func TestEveryVerbHasAJSONShape(t *testing.T) {
	textOnly := map[string]bool{"belay server": true, "belay agent": true, "belay down": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			if _, ok := jsonOutputs[sub.CommandPath()]; sub.Runnable() && !ok && !textOnly[sub.CommandPath()] {
				t.Errorf("%s: no entry in jsonOutputs", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(NewRoot(nil, nil, nil))
}
