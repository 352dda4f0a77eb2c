package migration

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/gates.md's rules table")

const (
	gatesDoc   = "../../../docs/gates.md"
	rulesBegin = "<!-- rules:begin -->\n"
	rulesEnd   = "<!-- rules:end -->"
)

// TestGatesDocCurrent keeps docs/gates.md's rules table the rule
// catalogue's, so the page cannot drift from the code.
func TestGatesDocCurrent(t *testing.T) {
	data, err := os.ReadFile(gatesDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	before, rest, ok1 := strings.Cut(doc, rulesBegin)
	_, after, ok2 := strings.Cut(rest, rulesEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the %q and %q markers", gatesDoc, rulesBegin, rulesEnd)
	}
	want := before + rulesBegin + rulesTable() + rulesEnd + after
	if want == doc {
		return
	}
	if *update {
		if err := os.WriteFile(gatesDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's rules table is stale: go test ./internal/gate/migration -run TestGatesDocCurrent -update", gatesDoc)
}

func rulesTable() string {
	var b strings.Builder
	b.WriteString("| rule | class | what | why | safe rewrite |\n|---|---|---|---|---|\n")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, r := range Rules() {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", r.ID, r.Class, cell(r.What), cell(r.Explanation), cell(r.Rewrite))
	}
	return b.String()
}
