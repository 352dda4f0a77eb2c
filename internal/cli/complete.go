package cli

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/spf13/cobra"
)

// Shell completion of what belay's verbs name: services and environments
// from belay.yaml, versions from the server (what it rolled out) and the
// artifact store (what was built), rollouts, releases and queue entries
// from the server. A source that cannot answer completes nothing rather
// than failing: completion runs on every tab.

// completeTimeout bounds a server's answer during completion: a tab must not hang.
const completeTimeout = 2 * time.Second

// argsCompletion says what each positional argument of a verb is.
type argsCompletion []func(g *Globals, cmd *cobra.Command, args []string) []string

// completions are the verbs' arguments and flags, by command path below the root.
var completions = map[string]struct {
	args  argsCompletion
	flags map[string]func(g *Globals, cmd *cobra.Command, args []string) []string
}{
	"build":            {args: argsCompletion{services}},
	"status":           {args: argsCompletion{services}},
	"parity":           {args: argsCompletion{environments, environments}},
	"history":          {args: argsCompletion{services}, flags: envFlag},
	"logs":             {args: argsCompletion{services}, flags: withEnv("version", versionsOfArg)},
	"release":          {args: argsCompletion{services, versionsOfArg}},
	"rollback":         {args: argsCompletion{services}, flags: withEnv("to", versionsOfArg)},
	"explain":          {args: argsCompletion{rollouts(false)}},
	"wait":             {args: argsCompletion{rollouts(false)}, flags: map[string]func(*Globals, *cobra.Command, []string) []string{"release": releases(false)}},
	"pause":            {args: argsCompletion{rollouts(true)}},
	"resume":           {args: argsCompletion{rollouts(true)}},
	"promote":          {args: argsCompletion{rollouts(true)}},
	"abort":            {args: argsCompletion{rollouts(true)}},
	"approve":          {args: argsCompletion{releases(true)}, flags: envFlag},
	"queue cancel":     {args: argsCompletion{queueEntries}},
	"artifacts show":   {args: argsCompletion{allVersions}},
	"artifacts verify": {args: argsCompletion{allVersions}},
	"flags list":       {flags: envFlag},
	"flags diff":       {flags: envFlag},
	"flags get":        {args: argsCompletion{flagKeys}, flags: envFlag},
	"flags set":        {args: argsCompletion{flagKeys, flagVariants}, flags: envFlag},
	"flags disable":    {args: argsCompletion{flagKeys}, flags: envFlag},
	"flags enable":     {args: argsCompletion{flagKeys}, flags: envFlag},
	"flags reset":      {args: argsCompletion{flagKeys}, flags: envFlag},
}

var envFlag = withEnv("", nil)

// withEnv completes --env with the environments, and flag (when named) with f.
func withEnv(flag string, f func(*Globals, *cobra.Command, []string) []string) map[string]func(*Globals, *cobra.Command, []string) []string {
	m := map[string]func(*Globals, *cobra.Command, []string) []string{"env": environments}
	if flag != "" {
		m[flag] = f
	}
	return m
}

// addCompletions attaches the completions to the verbs of root.
func addCompletions(root *cobra.Command, g *Globals) {
	for path, c := range completions {
		cmd, _, err := root.Find(strings.Fields(path))
		if err != nil || cmd == root {
			panic("completion for unknown verb " + path) // a renamed verb: TestCompletionsNameVerbs says which
		}
		if c.args != nil {
			cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
				if len(args) >= len(c.args) {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				return c.args[len(args)](g, cmd, args), cobra.ShellCompDirectiveNoFileComp
			}
		}
		for name, f := range c.flags {
			_ = cmd.RegisterFlagCompletionFunc(name, func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return f(g, cmd, args), cobra.ShellCompDirectiveNoFileComp
			})
		}
	}
}

// projectOf is the project file a verb was given (-f), belay.yaml by default.
func projectOf(cmd *cobra.Command) string {
	if f := cmd.Flags().Lookup("file"); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	return "belay.yaml"
}

func services(_ *Globals, cmd *cobra.Command, _ []string) []string {
	p, err := spec.Load(projectOf(cmd))
	if err != nil {
		return nil
	}
	return p.ServiceNames()
}

func environments(_ *Globals, cmd *cobra.Command, _ []string) []string {
	p, err := spec.Load(projectOf(cmd))
	if err != nil {
		return nil
	}
	return p.EnvironmentNames()
}

func flagKeys(_ *Globals, cmd *cobra.Command, _ []string) []string {
	p, err := spec.Load(projectOf(cmd))
	if err != nil {
		return nil
	}
	return p.FlagKeys()
}

// flagVariants are the variants of the flag named by the first argument.
func flagVariants(_ *Globals, cmd *cobra.Command, args []string) []string {
	p, err := spec.Load(projectOf(cmd))
	if err != nil || len(args) == 0 || p.Flags[args[0]] == nil {
		return nil
	}
	return p.Flags[args[0]].Variants.Names()
}

// ask gets path from the server within completeTimeout; false when none answers.
func ask(g *Globals, cmd *cobra.Command, path string, out any) bool {
	c, err := g.client(projectOf(cmd))
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(cmp.Or(cmd.Context(), context.Background()), completeTimeout)
	defer cancel()
	return c.do(ctx, "GET", path, nil, out) == nil
}

// versionsOfArg are the versions of the service named by the first argument.
func versionsOfArg(g *Globals, cmd *cobra.Command, args []string) []string {
	if len(args) == 0 {
		return nil
	}
	return versions(g, cmd, args[0])
}

func allVersions(g *Globals, cmd *cobra.Command, _ []string) []string { return versions(g, cmd, "") }

// versions of service ("" for every service), newest first: those the
// server rolled out, then those in the artifact store it has not.
func versions(g *Globals, cmd *cobra.Command, service string) []string {
	var out []string
	var rs []api.RolloutView
	if ask(g, cmd, "/rollouts?service="+url.QueryEscape(service), &rs) {
		sortNewest(rs)
		for _, r := range rs {
			if !slices.Contains(out, r.Version) {
				out = append(out, r.Version)
			}
		}
	}
	for _, a := range storedArtifacts(g, cmd) {
		if (service == "" || a.Service == service) && !slices.Contains(out, a.Version) {
			out = append(out, a.Version)
		}
	}
	return out
}

// storedArtifacts lists the artifact store belay.yaml names (else the one in
// the home directory), newest first.
func storedArtifacts(g *Globals, cmd *cobra.Command) []artifact.Info {
	f := &artifactFlags{file: projectOf(cmd)}
	if s := cmd.Flags().Lookup("store"); s != nil {
		f.store = s.Value.String()
	}
	p, err := f.loadProject(false)
	if err != nil {
		return nil
	}
	local := f.store == "" && (p == nil || p.Artifacts == nil || p.Artifacts.Store == "" || p.Artifacts.Store == "local")
	if _, err := os.Stat(filepath.Join(g.HomeDir(f.file), "artifacts")); local && err != nil {
		return nil // opening the local store would create it: a tab must not write
	}
	s, err := f.openStore(g, p)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(cmp.Or(cmd.Context(), context.Background()), completeTimeout)
	defer cancel()
	list, err := artifact.List(ctx, s)
	if err != nil {
		return nil
	}
	slices.Reverse(list)
	return list
}

// rollouts are the server's rollouts, newest first (only those still
// running when active), each with what it is.
func rollouts(active bool) func(*Globals, *cobra.Command, []string) []string {
	return func(g *Globals, cmd *cobra.Command, _ []string) []string {
		path := "/rollouts"
		if active {
			path += "?active=1"
		}
		var rs []api.RolloutView
		if !ask(g, cmd, path, &rs) {
			return nil
		}
		sortNewest(rs)
		var out []string
		for _, r := range rs {
			out = append(out, cobra.CompletionWithDesc(strconv.FormatInt(r.ID, 10),
				fmt.Sprintf("%s %s in %s, %s", r.Service, r.Version, r.Environment, r.Phase)))
		}
		return out
	}
}

// releases are the releases the server's rollouts belong to, newest first
// (only those awaiting an approval when approving).
func releases(approving bool) func(*Globals, *cobra.Command, []string) []string {
	return func(g *Globals, cmd *cobra.Command, _ []string) []string {
		var rs []api.RolloutView
		if !ask(g, cmd, "/rollouts", &rs) {
			return nil
		}
		sortNewest(rs)
		var out []string
		seen := map[int64]bool{}
		for _, r := range rs {
			if seen[r.Release] || approving && r.Phase != "AwaitingApproval" {
				continue
			}
			seen[r.Release] = true
			out = append(out, cobra.CompletionWithDesc(strconv.FormatInt(r.Release, 10), r.Service+" "+r.Version))
		}
		return out
	}
}

func queueEntries(g *Globals, cmd *cobra.Command, _ []string) []string {
	var qs []api.QueueView
	if !ask(g, cmd, "/queue", &qs) {
		return nil
	}
	var out []string
	for _, q := range qs {
		out = append(out, cobra.CompletionWithDesc(strconv.FormatInt(q.ID, 10),
			fmt.Sprintf("%s %s for %s, %s", q.Service, q.Version, q.Environment, q.State)))
	}
	return out
}

func sortNewest(rs []api.RolloutView) {
	slices.SortStableFunc(rs, func(a, b api.RolloutView) int { return cmp.Compare(b.ID, a.ID) })
}
