// Package cli holds belay's cobra commands: flags, BELAY_* environment
// fallbacks, and text or JSON output. Domain logic lives in the packages the
// commands call.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// Globals are the flags every verb shares.
type Globals struct {
	Home   string // --home / BELAY_HOME: where state lives
	State  string // --state / BELAY_STATE: store URL (empty: SQLite under Home)
	Output string // -o: text or json
}

// exitError carries a specific exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Main runs the CLI with args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "belay:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// NewRoot builds the command tree.
func NewRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	g := &Globals{}
	root := &cobra.Command{
		Use:           "belay",
		Short:         "belay makes safe delivery the default",
		Long:          "belay takes a change from commit to production through quality gates, an immutable signed\nartifact, staging, smoke tests and a health-gated canary, then promotes it or rolls it back.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.validate()
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.Home, "home", os.Getenv("BELAY_HOME"), "directory where belay keeps state (env BELAY_HOME; default .belay beside belay.yaml)")
	pf.StringVar(&g.State, "state", os.Getenv("BELAY_STATE"), "state store URL, e.g. postgres://… (env BELAY_STATE; default SQLite in the home directory)")
	pf.StringVarP(&g.Output, "output", "o", "text", "output format: text or json")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))

	for _, c := range commands {
		root.AddCommand(c(g))
	}
	addCompletions(root, g)
	return root
}

// commands lists the constructors of every verb; each verb lives in its own file.
var commands []func(*Globals) *cobra.Command

func (g *Globals) validate() error {
	switch g.Output {
	case "text", "json":
		return nil
	}
	return fmt.Errorf("flag -o: unknown output format %q: use text or json", g.Output)
}

// HomeDir resolves the state directory: --home, BELAY_HOME, or .belay beside
// the project file.
func (g *Globals) HomeDir(projectFile string) string {
	if g.Home != "" {
		return g.Home
	}
	if projectFile == "" {
		projectFile = "belay.yaml"
	}
	return filepath.Join(filepath.Dir(projectFile), ".belay")
}
