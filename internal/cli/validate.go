package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/belay-dev/belay/internal/english"
	"github.com/belay-dev/belay/internal/gate/secrets"
	"github.com/belay-dev/belay/internal/infra"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newValidateCmd) }

// ValidateResult is what `belay validate -o json` prints.
type ValidateResult struct {
	File        string            `json:"file"`
	Valid       bool              `json:"valid"`
	Kind        spec.DocKind      `json:"kind,omitempty"`
	Project     *spec.Project     `json:"project,omitempty"`
	ReleasePlan *spec.ReleasePlan `json:"release_plan,omitempty"`
	Errors      spec.Errors       `json:"errors,omitempty"`
}

func newValidateCmd(g *Globals) *cobra.Command {
	file := "belay.yaml"
	cmd := &cobra.Command{
		Use:   "validate [-f FILE]",
		Short: "Check a belay.yaml or a release plan file and summarise it",
		Long: "validate parses FILE (default ./belay.yaml) as a project or, when its only top-level key is\n" +
			"release_plan, as a release plan, and reports every problem with file:line:column, the field\n" +
			"path and what was expected. It exits 1 when the file is invalid.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, err := spec.LoadDocument(file)
			var problems spec.Errors
			switch {
			case errors.As(err, &problems):
			case err != nil:
				return err // unreadable file: not a validation result
			}
			if doc != nil && doc.Project != nil && len(problems) == 0 {
				// the stack parameters, as belay plan checks them (without secrets or servers)
				problems = append(problems, infra.CheckStacks(doc.Project)...)
			}
			leaks, err := plaintextLeaks(file)
			if err != nil {
				return err
			}
			for _, l := range leaks { // belay.yaml's own check may have said it already
				if !slices.ContainsFunc(problems, func(e *spec.Error) bool { return e.Line == l.Line }) {
					problems = append(problems, l)
				}
			}
			res := ValidateResult{File: file, Valid: len(problems) == 0, Errors: problems}
			if doc != nil && len(problems) == 0 {
				res.Kind, res.Project, res.ReleasePlan = doc.Kind, doc.Project, doc.ReleasePlan
			}
			if err := g.emit(cmd.OutOrStdout(), res, func(w io.Writer) error { return printSummary(w, res) }); err != nil {
				return err
			}
			if len(problems) > 0 {
				if g.Output != "json" {
					fmt.Fprintln(cmd.ErrOrStderr(), problems.Error())
				}
				return &exitError{code: exitInvalid, reported: true, err: fmt.Errorf("%s is invalid: %s", file, english.Count(len(problems), "problem"))}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", file, "the belay.yaml or release plan file to check")
	// validate used to record the project in the state store; it only checks
	// now, and --no-record is accepted so that existing scripts keep working.
	cmd.Flags().Bool("no-record", false, "no effect: validate never records anything")
	_ = cmd.Flags().MarkDeprecated("no-record", "validate only checks; drop the flag")
	// Cobra prints flag warnings to stdout, where one would break -o json.
	cmd.Flags().SetOutput(stderrOf{cmd})
	return cmd
}

// stderrOf writes to a command's stderr, resolved when written.
type stderrOf struct{ cmd *cobra.Command }

func (w stderrOf) Write(p []byte) (int, error) { return w.cmd.ErrOrStderr().Write(p) }

func printSummary(w io.Writer, r ValidateResult) error {
	if !r.Valid {
		return nil // the problems go to stderr
	}
	var b strings.Builder
	if p := r.Project; p != nil {
		name := p.Name
		if name == "" {
			name = "(unnamed)"
		}
		fmt.Fprintf(&b, "%s: valid project %s\n", r.File, name)
		fmt.Fprintf(&b, "services: %s\n", strings.Join(p.ServiceNames(), ", "))
		fmt.Fprintf(&b, "environments: %s\n", strings.Join(p.EnvironmentNames(), " -> "))
		n := 0
		for _, s := range p.Services {
			n += len(s.RollbackTrigger)
		}
		fmt.Fprintf(&b, "triggers: %s parsed\n", english.Count(n, "trigger"))
		for _, name := range p.ServiceNames() {
			for _, t := range p.Service(name).RollbackTrigger {
				fmt.Fprintf(&b, "  %s: %s\n", name, t)
			}
		}
		if pl := p.Pipeline; pl != nil {
			fmt.Fprintf(&b, "pipeline: %d pull_request, %d main_branch, %d deploy steps\n", len(pl.PullRequest), len(pl.MainBranch), len(pl.Deploy))
		}
		if rp := p.ReleasePlan; rp != nil {
			fmt.Fprintf(&b, "release plan: %s (previous stable %s)\n", rp.Version, rp.PreviousStable)
		}
	}
	if rp := r.ReleasePlan; rp != nil {
		fmt.Fprintf(&b, "%s: valid release plan %s\n", r.File, rp.Version)
		fmt.Fprintf(&b, "service: %s\nprevious_stable: %s\nmigration_type: %s\nrollout: %s\n", rp.Service(), rp.PreviousStable, rp.MigrationType, rp.Rollout)
		fmt.Fprintf(&b, "triggers: %s parsed\n", english.Count(len(rp.RollbackTrigger), "trigger"))
		for _, t := range rp.RollbackTrigger {
			fmt.Fprintf(&b, "  %s\n", t)
		}
		acts := make([]string, len(rp.RollbackAction))
		for i, a := range rp.RollbackAction {
			acts[i] = a.String()
		}
		fmt.Fprintf(&b, "rollback_action: %s\n", strings.Join(acts, ", then "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// plaintextLeaks are secrets gitleaks' rules find written in file, which is
// committed: belay.yaml takes secrets by name (run.secrets), never by value.
func plaintextLeaks(file string) (spec.Errors, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	fs, err := secrets.ScanText(file, string(b))
	if err != nil {
		return nil, err
	}
	var out spec.Errors
	for _, f := range fs {
		out = append(out, &spec.Error{File: file, Pos: spec.Pos{Line: f.Line, Column: f.Column},
			Msg: fmt.Sprintf("%s looks like a secret written in plaintext (gitleaks rule %s); %s is committed: keep it with `belay secrets set NAME --env <environment>` and list NAME under run.secrets", f.Secret, f.Rule, filepath.Base(file))})
	}
	return out, nil
}
