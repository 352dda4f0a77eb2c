package ci

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/belay-dev/belay/internal/gate/migration"
	"github.com/belay-dev/belay/internal/gate/secrets"
	"github.com/belay-dev/belay/internal/gate/vuln"
	"github.com/belay-dev/belay/internal/spec"
)

// MigrationGate is migration_check: every service's migration files
// (migration.files, relative to the project) checked as `belay gate
// migrations` does. Under block_unsafe (and block) a contract or lock
// hazard fails it (the runner then applies the impact: under warn, a warning).
func MigrationGate(p *spec.Project) Gate {
	return func(_ context.Context, dir string, _ *spec.Step, out io.Writer) (GateResult, error) {
		var files []migration.File
		inTx := false
		for _, name := range p.ServiceNames() {
			m := p.Services[name].Migration
			if m == nil {
				continue
			}
			inTx = inTx || m.InTransaction
			fs, err := migration.ReadFiles(dir, m.Files)
			if err != nil {
				return GateResult{}, err
			}
			files = append(files, fs...)
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
				res.Blocks = true
			}
			res.Findings = append(res.Findings, Finding{Rule: f.Rule, Level: level, Severity: string(f.Class),
				Message: f.Explanation + " Safe: " + f.Rewrite, File: f.File, Line: f.Line, Column: f.Column})
			fmt.Fprintf(out, "%s:%d:%d %s (%s): %s\n", f.File, f.Line, f.Column, f.Rule, f.Class, f.Explanation)
		}
		fmt.Fprintln(out, res.Summary)
		return res, nil
	}
}

// SecretsGate is secrets: the working tree scanned with gitleaks' rules and
// the project's .gitleaks.toml, as `belay gate secrets` does (baseline:
// .gitleaks-baseline.json at the project root, when it exists). Any finding
// fails it.
func SecretsGate() Gate {
	return func(ctx context.Context, dir string, _ *spec.Step, out io.Writer) (GateResult, error) {
		opt := secrets.Options{Path: dir, Mode: secrets.Tree}
		if _, err := os.Stat(filepath.Join(dir, ".gitleaks-baseline.json")); err == nil {
			opt.Baseline = filepath.Join(dir, ".gitleaks-baseline.json")
		}
		rep, err := secrets.Scan(ctx, opt)
		if err != nil {
			return GateResult{}, err
		}
		res := GateResult{Detail: rep, Summary: fmt.Sprintf("%d secret(s) found", len(rep.Findings)), Blocks: len(rep.Findings) > 0}
		for _, f := range rep.Findings {
			res.Findings = append(res.Findings, Finding{Rule: f.Rule, Level: "error", Message: f.Description + ": " + f.Secret,
				File: f.File, Line: f.Line, Column: f.Column})
			fmt.Fprintf(out, "%s:%d:%d %s %s\n", f.File, f.Line, f.Column, f.Rule, f.Secret)
		}
		fmt.Fprintln(out, res.Summary)
		return res, nil
	}
}

// VulnGate is dependency_audit (scan: govulncheck on the Go module in dir
// when the step names no report) or container_scan (reports only): the
// step's reports and scan judged by the policy in dir's belay-vulns.yaml
// (else the default), as `belay gate vulns` and `belay gate scan` do.
func VulnGate(scan bool, allow []vuln.Tool) Gate {
	return func(ctx context.Context, dir string, step *spec.Step, out io.Writer) (GateResult, error) {
		policy := vuln.DefaultPolicy()
		if b, err := os.ReadFile(filepath.Join(dir, vuln.DefaultPolicyFile)); err == nil {
			if policy, err = vuln.ParsePolicy(vuln.DefaultPolicyFile, b); err != nil {
				return GateResult{}, err
			}
		}
		var findings []vuln.Finding
		for _, name := range step.Report {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return GateResult{}, fmt.Errorf("read report: %w", err)
			}
			fs, tool, err := vuln.ParseReport(name, b)
			if err != nil {
				return GateResult{}, err
			}
			if allow != nil && !slices.Contains(allow, tool) {
				return GateResult{}, fmt.Errorf("%s is %s's report; this gate reads %v", name, tool, allow)
			}
			findings = append(findings, fs...)
		}
		if scan && len(step.Report) == 0 {
			fs, err := vuln.Scan(ctx, vuln.ScanOptions{Dir: dir})
			if err != nil {
				return GateResult{}, err
			}
			findings = fs
		}
		res, err := vuln.Evaluate(vuln.Merge(findings), policy, time.Now())
		if err != nil {
			return GateResult{}, err
		}
		g := GateResult{Detail: res, Blocks: res.Blocks(),
			Summary: fmt.Sprintf("%d block, %d warn, %d waived", res.Summary.Block, res.Summary.Warn, res.Summary.Waived)}
		for _, f := range res.Findings {
			level := "warning"
			if f.Verdict == vuln.Block {
				level = "error"
			}
			where := f.Report
			if where == "" {
				where = f.Target
			}
			g.Findings = append(g.Findings, Finding{Rule: f.ID, Level: level, Severity: string(f.Severity), File: where,
				Message: fmt.Sprintf("%s %s → %s: %s (%s: %s)", f.Package, f.Installed, orNone(f.Fixed), f.Title, f.Verdict, f.Why)})
			fmt.Fprintf(out, "%s %s %s %s → %s: %s, %s\n", f.ID, f.Severity, f.Package, f.Installed, orNone(f.Fixed), f.Verdict, f.Why)
		}
		fmt.Fprintln(out, g.Summary)
		return g, nil
	}
}

func orNone(fixed string) string {
	if fixed == "" {
		return "no fix"
	}
	return fixed
}
