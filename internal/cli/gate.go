package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/belay-dev/belay/internal/english"
	"github.com/belay-dev/belay/internal/gate/migration"
	"github.com/belay-dev/belay/internal/gate/secrets"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newGateCmd) }

// MigrationsReport is what `belay gate migrations -o json` prints.
type MigrationsReport = migration.Report

// SecretsReport is what `belay gate secrets -o json` prints.
type SecretsReport = secrets.Report

// exitGateInput is the exit code of a gate that could not judge its input
// (missing or unreadable files, SQL that does not parse), apart from 1,
// which says the input was judged and blocks.
const exitGateInput = 2

func newGateCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gate migrations|secrets|vulns|scan",
		Short: "Run one of belay's CI quality gates on its own",
		Long: "Each gate exits by release impact: 0 when the change may ship as it is, 1 when it blocks\n" +
			"(the output says why and what would unblock it), 2 when the input cannot be judged.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newGateMigrationsCmd(g), newGateSecretsCmd(g), newGateVulnsCmd(g), newGateScanCmd(g))
	return cmd
}

func newGateMigrationsCmd(g *Globals) *cobra.Command {
	var opt migration.Options
	cmd := &cobra.Command{
		Use:   "migrations FILE…",
		Short: "Check PostgreSQL migration files: what they do to a release, and the migration_type they give",
		Long: "migrations parses each FILE with PostgreSQL's parser and checks every statement against rules\n" +
			"named as squawk names them (docs/gates.md lists them, each with why and a safe rewrite). A\n" +
			"statement is expand (the previous version keeps working), contract (it breaks, so rollback\n" +
			"fails), lock_hazard (it may block reads or writes while it runs) or data_dependent (a warning:\n" +
			"it depends on the rows). The files give the release plan's migration_type: none when nothing\n" +
			"changes, contract when anything contracts or hazards a lock, else expand_only.\n\n" +
			"Exit 0 for none or expand_only, 1 for contract, 2 when a file is missing or does not parse\n" +
			"(file:line:column and PostgreSQL's message). A comment `-- belay:ignore RULE[,RULE…] [why]`\n" +
			"on its own line right before a statement keeps those findings but counts them for nothing.",
		Example: "  belay gate migrations db/migrations/0042_*.sql\n  belay gate migrations -o json migrations/*.up.sql",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &exitError{code: exitGateInput, err: usageError{errors.New("name the migration files to check: belay gate migrations FILE…")}}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			files := make([]migration.File, 0, len(args))
			for _, name := range args {
				data, err := os.ReadFile(name)
				if err != nil {
					return &exitError{code: exitGateInput, err: usageError{fmt.Errorf("read migration: %w", err)}}
				}
				files = append(files, migration.File{Name: name, SQL: string(data)})
			}
			rep, err := migration.CheckWith(files, opt)
			if err != nil {
				return &exitError{code: exitGateInput, err: &hintError{code: codeInvalid, msg: err.Error(),
					hint: "fix the SQL at that position; the check reads it with PostgreSQL 17's parser", err: err}}
			}
			if err := g.emit(cmd.OutOrStdout(), MigrationsReport(rep), func(w io.Writer) error { return printMigrationReport(w, rep) }); err != nil {
				return err
			}
			if rep.MigrationType == spec.Contract {
				return &exitError{code: 1, reported: g.Output == "json", err: fmt.Errorf("the migrations give migration_type contract: %s",
					english.Count(blocking(rep), "finding")+" block an expand_only release")}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opt.AssumeInTransaction, "assume-in-transaction", false,
		"read each file as if wrapped in one transaction, as many migration tools run them (squawk's flag of that name)")
	return cmd
}

// blocking counts the findings that make the migration contract.
func blocking(r migration.Report) int {
	n := 0
	for _, f := range r.Findings {
		if !f.Ignored && f.Severity == migration.Error {
			n++
		}
	}
	return n
}

// printMigrationReport prints a finding per block — place, rule, class and
// the statement's start, then why and the safe rewrite — and a summary.
func printMigrationReport(w io.Writer, r migration.Report) error {
	var b strings.Builder
	places := make([]string, len(r.Findings))
	wPlace, wRule, wClass := 0, 0, 0
	for i, f := range r.Findings {
		places[i] = fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column)
		wPlace, wRule, wClass = max(wPlace, len(places[i])), max(wRule, len(f.Rule)), max(wClass, len(findingClass(f)))
	}
	for i, f := range r.Findings {
		fmt.Fprintf(&b, "%-*s  %-*s  %-*s  %s\n", wPlace, places[i], wRule, f.Rule, wClass, findingClass(f), excerpt(f.Statement, 60))
		if f.Ignored {
			fmt.Fprintf(&b, "    ignored by belay:ignore%s\n", prefixed(": ", f.IgnoreReason))
			continue
		}
		fmt.Fprintf(&b, "    why: %s\n    safe rewrite: %s\n", f.Explanation, f.Rewrite)
	}
	if len(r.Findings) > 0 {
		b.WriteString("\n")
	}
	var classes []string
	for _, c := range []migration.Class{migration.Expand, migration.DataDependent, migration.LockHazard, migration.Contract} {
		if n := r.Classes[c]; n > 0 {
			classes = append(classes, fmt.Sprintf("%d %s", n, c))
		}
	}
	fmt.Fprintf(&b, "%s in %s", english.Count(len(r.Statements), "statement"), english.Count(len(r.Files), "file"))
	if len(classes) > 0 {
		fmt.Fprintf(&b, ": %s", strings.Join(classes, ", "))
	}
	b.WriteString("\nmigration_type: " + string(r.MigrationType))
	switch r.MigrationType {
	case spec.NoMigration:
		b.WriteString(" (no statement changes the schema or the data)")
	case spec.Contract:
		b.WriteString(" (the previous version breaks, or a table may stall; a release plan must accept contract explicitly)")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func findingClass(f migration.Finding) string {
	switch {
	case f.Ignored:
		return string(f.Class) + " (ignored)"
	case f.Severity == migration.Warning:
		return string(f.Class) + " (warning)"
	}
	return string(f.Class)
}

// excerpt is a statement on one line, cut to n characters.
func excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}
