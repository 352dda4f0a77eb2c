package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/belay-dev/belay/internal/english"
	"github.com/belay-dev/belay/internal/gate/secrets"
	"github.com/spf13/cobra"
)

func newGateSecretsCmd(g *Globals) *cobra.Command {
	var (
		opt           secrets.Options
		history       bool
		writeBaseline string
	)
	cmd := &cobra.Command{
		Use:   "secrets [PATH]",
		Short: "Scan a tree, a git history or the commits since a revision for secrets, with gitleaks' rules",
		Long: "secrets runs gitleaks (as a library) with its default rules and the project's .gitleaks.toml\n" +
			"(at PATH, default ., or at the repository's root with --git) laid over them: extra rules,\n" +
			"allowlists, [extend] disabledRules. Without\n" +
			"--git it scans the files under PATH as they are; with --git, every line every commit of the\n" +
			"repository added (a secret removed later is still in the history); with --since REV, only\n" +
			"the commits after REV, as a pull request's check needs. A --baseline (a gitleaks JSON report,\n" +
			"or one --write-baseline wrote) suppresses the findings it holds; .gitleaksignore and\n" +
			"gitleaks:allow comments work as in gitleaks. Secrets are never printed: at most their first\n" +
			"4 characters, then ***.\n\n" +
			"Exit 0 when nothing is found, 1 when a secret is found (it blocks the release), 2 when the\n" +
			"input cannot be scanned (no such path, not a repository, unknown revision, a bad\n" +
			".gitleaks.toml or baseline).",
		Example: "  belay gate secrets\n  belay gate secrets --git\n  belay gate secrets --since origin/main\n" +
			"  belay gate secrets --git --write-baseline .gitleaks-baseline.json\n  belay gate secrets --git --baseline .gitleaks-baseline.json -o json",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &exitError{code: exitGateInput, err: usageError{errors.New("name one directory or repository to scan: belay gate secrets [PATH]")}}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opt.Path = args[0]
			}
			opt.Mode = secrets.Tree
			if history || opt.Since != "" {
				opt.Mode = secrets.History
			}
			rep, err := secrets.Scan(cmd.Context(), opt)
			if err != nil {
				return &exitError{code: exitGateInput, err: &hintError{code: codeInvalid, msg: err.Error(), hint: secretsHint(err), err: err}}
			}
			if writeBaseline != "" {
				if err := writeFileWith(writeBaseline, rep.WriteBaseline); err != nil {
					return &exitError{code: exitGateInput, err: fmt.Errorf("write baseline: %w", err)}
				}
			}
			if err := g.emit(cmd.OutOrStdout(), SecretsReport(rep), func(w io.Writer) error { return printSecretsReport(w, rep) }); err != nil {
				return err
			}
			if rep.Blocks() && writeBaseline == "" {
				return &exitError{code: 1, reported: g.Output == "json", err: fmt.Errorf("the secret scan blocks the release: %s; %s",
					english.Count(len(rep.Findings), "secret")+" found", "remove each one and rotate it (it stays in the history), or, if it is no secret, allowlist it in .gitleaks.toml or add it to a --baseline")}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&history, "git", false, "scan every commit of the repository at PATH, not the files as they are")
	cmd.Flags().StringVar(&opt.Since, "since", "", "scan only the commits after `REV` (reachable from HEAD, not from REV); implies --git")
	cmd.Flags().StringVar(&opt.Baseline, "baseline", "", "suppress the findings in this gitleaks JSON report `FILE`")
	cmd.Flags().StringVar(&writeBaseline, "write-baseline", "", "write the findings, redacted, to `FILE` as a baseline for later scans, and exit 0")
	return cmd
}

func secretsHint(err error) string {
	switch {
	case errors.Is(err, secrets.ErrConfig):
		return "fix the file (gitleaks' configuration format: https://github.com/gitleaks/gitleaks#configuration)"
	case errors.Is(err, secrets.ErrBaseline):
		return "a baseline is a gitleaks JSON report: write one with --write-baseline"
	case errors.Is(err, secrets.ErrGit):
		return "--git and --since read a git repository; check the path and the revision"
	}
	return ""
}

// writeFileWith creates name and writes it with write.
func writeFileWith(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// printSecretsReport prints a finding per line — place, rule, the secret
// redacted and, from a history, the commit — then a summary.
func printSecretsReport(w io.Writer, r secrets.Report) error {
	var b strings.Builder
	places := make([]string, len(r.Findings))
	wPlace, wRule, wSecret := 0, 0, 0
	for i, f := range r.Findings {
		places[i] = fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column)
		wPlace, wRule, wSecret = max(wPlace, len(places[i])), max(wRule, len(f.Rule)), max(wSecret, len(f.Secret))
	}
	for i, f := range r.Findings {
		line := fmt.Sprintf("%-*s  %-*s  %-*s", wPlace, places[i], wRule, f.Rule, wSecret, f.Secret)
		if f.Commit != "" {
			line += fmt.Sprintf("  %.8s %.10s %s", f.Commit, f.Date, f.Author)
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	if len(r.Findings) > 0 {
		b.WriteString("\n")
	}
	what := "the files under " + r.Path
	switch {
	case r.Since != "":
		what = fmt.Sprintf("%s after %s in %s", english.Count(r.Commits, "commit"), r.Since, r.Path)
	case r.Mode == secrets.History:
		what = fmt.Sprintf("the history of %s (%s)", r.Path, english.Count(r.Commits, "commit"))
	}
	found := "no secret"
	if len(r.Findings) > 0 {
		found = english.Count(len(r.Findings), "secret")
	}
	fmt.Fprintf(&b, "%s in %s, by %s", found, what, english.Count(r.Rules, "rule"))
	if r.Config != "" {
		fmt.Fprintf(&b, " (gitleaks' defaults and %s)", r.Config)
	}
	if r.Baselined > 0 {
		fmt.Fprintf(&b, "; %d more in the baseline, not shown", r.Baselined)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
