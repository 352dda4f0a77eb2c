package orchestrate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/release"
)

// A release's migration files are checked against the type belay.yaml
// declares: only those new since the previous stable; a first release only
// notes what it found; a declared expand_only that drops a column is
// refused, naming file, line and rule.
func TestReleaseChecksMigrationsAgainstTheDeclaredType(t *testing.T) {
	h := newHarness(t, "")
	b, _ := os.ReadFile(h.file)
	text := strings.Replace(string(b), "    rollback_action: deploy previous_stable\n", "    rollback_action: deploy previous_stable\n"+
		"    migration: {command: \"true\", type: expand_only, files: [migrations/*.sql], in_transaction: true}\n", 1)
	if err := os.WriteFile(h.file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"001_users.sql": "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\nDROP TABLE legacy;\n",
	}
	tree := func(version string) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "migrations"), 0o755)
		for name, sql := range files {
			os.WriteFile(filepath.Join(dir, "migrations", name), []byte(sql), 0o644)
		}
		h.dirs["sha256:"+version] = dir
	}
	tree("api-v1") // a first release: its DROP TABLE is a note, not a refusal
	ans := h.release("api-v1")
	if !strings.Contains(strings.Join(ans.Plan.Notes, "\n"), "ban-drop-table") {
		t.Errorf("first release notes %q; want the finding noted", ans.Plan.Notes)
	}
	h.settled(ans.Release)

	files["002_bio.sql"] = "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN bio text;\n"
	tree("api-v2")
	ans = h.release("api-v2")
	if notes := strings.Join(ans.Plan.Notes, "\n"); !strings.Contains(notes, "migrations: 1 new file(s), 1 statement(s): expand_only") {
		t.Errorf("v2 notes %q; want only 002 checked, expand_only", notes)
	}
	h.settled(ans.Release)

	files["003_drop_bio.sql"] = "SET lock_timeout = '2s';\n\nALTER TABLE users DROP COLUMN bio;\n"
	tree("api-v3")
	_, err := h.o.Release(h.ctx, api.ReleaseRequest{Service: "api", Version: "api-v3", Owner: "ann"})
	if !errors.Is(err, release.ErrUnsafe) || !strings.Contains(err.Error(), "api-v3 declares migration_type expand_only, but its migrations new since api-v2 are contract: migrations/003_drop_bio.sql:3:1 ban-drop-column (contract)") {
		t.Fatalf("v3: %v", err)
	}
	if _, err := h.st.GetRelease(h.ctx, 3); err == nil {
		t.Error("the refused release was stored")
	}

	files["003_drop_bio.sql"] = "not sql at all;"
	tree("api-v4")
	if _, err := h.o.Release(h.ctx, api.ReleaseRequest{Service: "api", Version: "api-v4", Owner: "ann"}); err == nil || !strings.Contains(err.Error(), "do not parse: migrations/003_drop_bio.sql:1:1") {
		t.Errorf("unparsable migration: %v", err)
	}
}
