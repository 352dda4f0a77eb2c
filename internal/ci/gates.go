package ci

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/belay-dev/belay/internal/gate/migration"
	"github.com/belay-dev/belay/internal/spec"
)

// MigrationGate is migration_check: every service's migration files
// (migration.files, relative to the project) checked as `belay gate
// migrations` does. Under block_unsafe (and block) a contract or lock
// hazard blocks; under warn nothing does.
func MigrationGate(p *spec.Project) Gate {
	return func(_ context.Context, dir string, impact spec.Impact, out io.Writer) (GateResult, error) {
		var files []migration.File
		inTx := false
		for _, name := range p.ServiceNames() {
			m := p.Services[name].Migration
			if m == nil {
				continue
			}
			inTx = inTx || m.InTransaction
			for _, g := range m.Files {
				matches, err := filepath.Glob(filepath.Join(dir, g))
				if err != nil {
					return GateResult{}, err
				}
				slices.Sort(matches)
				for _, path := range matches {
					b, err := os.ReadFile(path)
					if err != nil {
						return GateResult{}, err
					}
					rel, _ := filepath.Rel(dir, path)
					files = append(files, migration.File{Name: filepath.ToSlash(rel), SQL: string(b)})
				}
			}
		}
		if len(files) == 0 {
			fmt.Fprintln(out, "no migration files (services' migration.files match none)")
			return GateResult{Summary: "no migration files"}, nil
		}
		rep, err := migration.CheckWith(files, migration.Options{AssumeInTransaction: inTx})
		if err != nil {
			return GateResult{}, err
		}
		res := GateResult{Detail: rep, Summary: fmt.Sprintf("%d file(s), %d statement(s): %s", len(rep.Files), len(rep.Statements), rep.MigrationType)}
		for _, f := range rep.Findings {
			if f.Ignored {
				continue
			}
			level := "warning"
			if f.Class == migration.Contract || f.Class == migration.LockHazard {
				level = "error"
				res.Blocks = res.Blocks || impact != spec.ImpactWarn
			}
			res.Findings = append(res.Findings, Finding{Rule: f.Rule, Level: level, Severity: string(f.Class),
				Message: f.Explanation + " Safe: " + f.Rewrite, File: f.File, Line: f.Line, Column: f.Column})
			fmt.Fprintf(out, "%s:%d:%d %s (%s): %s\n", f.File, f.Line, f.Column, f.Rule, f.Class, f.Explanation)
		}
		fmt.Fprintln(out, res.Summary)
		return res, nil
	}
}
