package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/explain"
	"github.com/belay-dev/belay/internal/rollout"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden and docs/cli.md with what is printed now")

// demoRollback is the demo's rolled-back rollout as the server answers
// `belay explain`: recorded from a demo run, told as the server tells it.
func demoRollback(t *testing.T) api.RolloutView {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "explain", "testdata", "demo_rollback.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v api.RolloutView
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var st rollout.State
	if err := json.Unmarshal(v.State, &st); err != nil {
		t.Fatal(err)
	}
	e := explain.Rollout(st, v.Transitions)
	v.Summary, v.Decisions = e.Summary, e.Decisions
	return v
}

func TestExplainGolden(t *testing.T) {
	var out bytes.Buffer
	if err := printExplain(&out, demoRollback(t)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "explain_demo_rollback.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if out.String() != string(want) {
		t.Errorf("%s differs (rerun with -update and review the diff):\n%s", path, out.String())
	}
}

// TestExplainDemoFirstLines: the demo's rollback says in its first three
// lines what failed, by how much and what belay did, in words anyone on
// call knows; the statistics come after.
func TestExplainDemoFirstLines(t *testing.T) {
	var out bytes.Buffer
	if err := printExplain(&out, demoRollback(t)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	first := strings.Join(lines[:3], "\n")
	for _, want := range []string{
		"— RolledBack", // the outcome
		"the new version failed 6.5 % of its 46 requests", // what failed, by how much
		"the stable version 0 % of its 381 requests",      // against what
		"belay rolled it back",                            // what belay did
	} {
		if !strings.Contains(strings.ToLower(first), strings.ToLower(want)) {
			t.Errorf("first three lines lack %q:\n%s", want, first)
		}
	}
	plain := first
	for _, l := range lines[3:] {
		if l == "" {
			break
		}
		plain += "\n" + l
	}
	if w := explain.JargonIn(plain); w != "" {
		t.Errorf("%q in the plain layer:\n%s", w, plain)
	}
	if !strings.Contains(out.String(), "e=205") {
		t.Errorf("the numbers layer lost the statistic:\n%s", out.String())
	}
}
