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
	"strings"

	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/open"
	"github.com/spf13/cobra"
)

// Globals are the flags every verb shares.
type Globals struct {
	Home   string // --home / BELAY_HOME: where state lives
	State  string // --state / BELAY_STATE: store URL (empty: SQLite under Home)
	Output string // -o: text or json
}

// exitError carries a specific exit code through cobra. reported: the verb
// already printed its answer, failure included, under -o json.
type exitError struct {
	code     int
	err      error
	reported bool
}

// exitInvalid is the exit code of a file that does not validate.
const exitInvalid = 1

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// wantsJSON reports whether args ask for -o json: an unknown verb or flag
// fails before cobra parses -o, and its error must still be JSON.
func wantsJSON(args []string) bool {
	for i, a := range args {
		if a == "--" {
			break
		}
		switch a {
		case "-ojson", "-o=json", "--output=json":
			return true
		case "-o", "--output":
			if i+1 < len(args) && args[i+1] == "json" {
				return true
			}
		}
	}
	return false
}

// Main runs the CLI with args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root, g := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	printError(stdout, stderr, g.Output == "json" || wantsJSON(args), err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// NewRoot builds the command tree.
func NewRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root, _ := newRoot(stdin, stdout, stderr)
	return root
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) (*cobra.Command, *Globals) {
	g := &Globals{}
	root := &cobra.Command{
		Use:           "belay",
		Short:         "belay makes safe delivery the default",
		Long:          "belay takes a change from commit to production through quality gates, an immutable signed\nartifact, staging, smoke tests and a health-gated canary, then promotes it or rolls it back.",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.validate(); err != nil {
				return err
			}
			if err := checkNoActor(cmd); err != nil {
				return err
			}
			return g.checkState(cmd)
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
	markUsage(root)
	addCompletions(root, g)
	return root, g
}

// commands lists the constructors of every verb; each verb lives in its own file.
var commands []func(*Globals) *cobra.Command

func (g *Globals) validate() error {
	switch g.Output {
	case "text", "json":
		return nil
	}
	err := usageError{fmt.Errorf("flag -o: unknown output format %q: use text or json", g.Output)}
	g.Output = "text" // so that the error itself prints as text
	return err
}

// stateVerbs are the verbs that open the state store, or start the server
// that does; every other verb refuses an explicit --state rather than
// ignore it (a client verb reads the server's store through the API).
var stateVerbs = map[string]bool{"belay server": true, "belay build": true, "belay up": true}

// checkState refuses a --state that names no store, on a verb that uses
// one, and an explicit --state on a verb that does not. BELAY_STATE in the
// environment is checked only where it is used: it is set for a shell, not
// for a command.
func (g *Globals) checkState(cmd *cobra.Command) error {
	f := cmd.Flags().Lookup("state")
	if f == nil || f != cmd.Root().PersistentFlags().Lookup("state") {
		return nil // a verb with a --state of its own (agent)
	}
	if !stateVerbs[cmd.CommandPath()] {
		if f.Changed {
			return usageError{fmt.Errorf("flag --state: `%s` does not open the state store, so --state would be ignored; "+
				"give it to `belay up` or `belay server`, which own the store", cmd.CommandPath())}
		}
		return nil
	}
	if g.State == "" {
		return nil
	}
	if _, err := open.Parse(g.State, ""); err != nil {
		source := "BELAY_STATE"
		if f.Changed {
			source = "flag --state"
		}
		return usageError{fmt.Errorf("%s: %s", source, strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": "))}
	}
	return nil
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
