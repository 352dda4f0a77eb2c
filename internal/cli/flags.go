package cli

import (
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/flag"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newFlagsCmd) }

func newFlagsCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "flags list | get | set | disable | enable | reset | diff",
		Short: "Read and flip feature flags: belay.yaml's, with run-time overrides on top",
		Long: "belay.yaml's flags: block defines each flag (variants, defaultVariant, state, a fractional split);\n" +
			"an environment's flags: block may change them there. At run time a deployer of an environment may\n" +
			"override a flag there: pin a variant (set), disable or enable it, or remove the override (reset).\n" +
			"An override is kept by the server until reset: a restart or an edit of belay.yaml does not undo it,\n" +
			"and `belay flags diff` shows where overrides and belay.yaml disagree. Every change needs --reason,\n" +
			"is audited under the token's name with the flag's setting before and after, and is a flag_changed\n" +
			"event. Reading flags needs any token.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newFlagsListCmd(g), newFlagsGetCmd(g), newFlagsDiffCmd(g))
	for _, op := range flag.Ops {
		cmd.AddCommand(newFlagsChangeCmd(g, op))
	}
	return cmd
}

// flagsPath is the API path of the flags (of env when not empty), or of one flag.
func flagsPath(env string, key ...string) string {
	if len(key) == 0 {
		if env == "" {
			return "/flags"
		}
		return "/flags?env=" + url.QueryEscape(env)
	}
	return "/flags/" + url.PathEscape(env) + "/" + url.PathEscape(key[0])
}

func newFlagsListCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env string
	cmd := &cobra.Command{
		Use:   "list [--env E]",
		Short: "List the flags as each environment serves them, with their overrides",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var vs []api.FlagView
			if err := c.do(cmd.Context(), "GET", flagsPath(env), nil, &vs); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), vs, func(w io.Writer) error { return printFlags(w, vs) })
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&env, "env", "", "environment (default every one)")
	return cmd
}

func printFlags(w io.Writer, vs []api.FlagView) error {
	if len(vs) == 0 {
		_, err := fmt.Fprintln(w, "no flags: belay.yaml defines none (see its flags: block)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENVIRONMENT\tFLAG\tKIND\tSERVES\tOVERRIDE")
	var problems []string
	for _, v := range vs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.Environment, v.Key, orDash(v.Kind), served(v), overrideText(v.Override))
		if v.Problem != "" {
			problems = append(problems, v.Environment+" "+v.Key+": "+v.Problem)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range problems {
		if _, err := fmt.Fprintln(w, p); err != nil {
			return err
		}
	}
	return nil
}

// served is what a flag serves, in short: "ENABLED on", "ENABLED split
// on 10%, off 90%", "DISABLED (code default)"; "-" for a flag belay.yaml
// no longer defines.
func served(v api.FlagView) string {
	switch {
	case v.File == nil:
		return "-"
	case v.State == "DISABLED":
		return "DISABLED (code default)"
	case len(v.Split) > 0:
		parts := make([]string, len(v.Split))
		for i, s := range v.Split {
			parts[i] = fmt.Sprintf("%s %v%%", s.Variant, s.Percent)
		}
		return v.State + " split " + strings.Join(parts, ", ")
	}
	return v.State + " " + v.Variant
}

// overrideText is an override in short: what it changes, who, and why.
func overrideText(o *flag.Override) string {
	if o == nil {
		return "-"
	}
	var what []string
	if o.State != "" {
		what = append(what, string(o.State))
	}
	if o.Variant != "" {
		what = append(what, "variant "+o.Variant)
	}
	return fmt.Sprintf("%s by %s %s: %s", strings.Join(what, ", "), o.Actor, o.At.UTC().Format(time.RFC3339), o.Reason)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func settingText(s *flag.Setting) string {
	switch {
	case s == nil || s.State == "":
		return "-"
	case s.Split:
		return string(s.State) + " split"
	case s.Variant == "":
		return string(s.State)
	}
	return string(s.State) + " " + s.Variant
}

func newFlagsGetCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env string
	cmd := &cobra.Command{
		Use:   "get KEY --env E",
		Short: "Show a flag in an environment: what it serves, belay.yaml's setting, the override and its variants",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var v api.FlagView
			if err := c.do(cmd.Context(), "GET", flagsPath(env, args[0]), nil, &v); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), v, func(w io.Writer) error { return printFlag(w, v) })
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&env, "env", "", "environment")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

func printFlag(w io.Writer, v api.FlagView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "flag\t%s in %s\n", v.Key, v.Environment)
	if v.Kind != "" || v.Type != "" {
		fmt.Fprintf(tw, "kind\t%s, %s\n", orDash(v.Kind), orDash(v.Type))
	}
	if v.Description != "" {
		fmt.Fprintf(tw, "description\t%s\n", v.Description)
	}
	fmt.Fprintf(tw, "serves\t%s\n", served(v))
	fmt.Fprintf(tw, "belay.yaml\t%s\n", settingText(v.File))
	fmt.Fprintf(tw, "override\t%s\n", overrideText(v.Override))
	if len(v.Variants) > 0 {
		names := make([]string, 0, len(v.Variants))
		for n := range v.Variants {
			names = append(names, n)
		}
		sort.Strings(names)
		for i, n := range names {
			names[i] = fmt.Sprintf("%s=%v", n, v.Variants[n])
		}
		fmt.Fprintf(tw, "variants\t%s\n", strings.Join(names, ", "))
	}
	for _, d := range v.Differences {
		fmt.Fprintf(tw, "differs\t%s: belay.yaml %s, override %s\n", d.Field, d.File, d.Override)
	}
	if v.Problem != "" {
		fmt.Fprintf(tw, "problem\t%s\n", v.Problem)
	}
	return tw.Flush()
}

// flagChanges are the verbs that change an override, with their usage.
var flagChanges = map[flag.Op]struct{ use, short string }{
	flag.Set:     {"set KEY VARIANT --env E --reason WHY", "Pin a flag's variant in an environment (its state is kept)"},
	flag.Disable: {"disable KEY --env E --reason WHY", "Disable a flag in an environment: applications get their code default"},
	flag.Enable:  {"enable KEY --env E --reason WHY", "Enable a flag in an environment (its pinned variant, if any, is kept)"},
	flag.Reset:   {"reset KEY --env E --reason WHY", "Remove a flag's override in an environment: belay.yaml's setting applies again"},
}

// newFlagsChangeCmd is set, disable, enable or reset.
func newFlagsChangeCmd(g *Globals, op flag.Op) *cobra.Command {
	var f clientFlags
	var env string
	args := 1
	if op == flag.Set {
		args = 2
	}
	cmd := &cobra.Command{
		Use:   flagChanges[op].use,
		Short: flagChanges[op].short,
		Args:  cobra.ExactArgs(args),
		RunE: func(cmd *cobra.Command, a []string) error {
			if strings.TrimSpace(f.reason) == "" {
				return usageError{fmt.Errorf("flags %s needs --reason: it is kept in the audit trail", op)}
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			req := api.FlagRequest{Reason: f.reason}
			if op == flag.Set {
				req.Variant = a[1]
			}
			var ch api.FlagChange
			if err := c.do(cmd.Context(), "POST", flagsPath(env, a[0])+"/"+string(op), req, &ch); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), ch, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "flag %s in %s: %s → %s\n", a[0], env, settingText(&ch.Before), settingText(&ch.After))
				if err == nil && ch.Flag.Problem != "" {
					_, err = fmt.Fprintln(w, ch.Flag.Problem)
				}
				return err
			})
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&env, "env", "", "environment")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

func newFlagsDiffCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env string
	cmd := &cobra.Command{
		Use:   "diff [--env E]",
		Short: "Show where run-time overrides and belay.yaml disagree (exit 0 either way)",
		Long: "For each environment (or --env), every flag whose override differs from belay.yaml's setting (its state,\n" +
			"its variant), with who set the override and why; and every override belay.yaml has made stale: one\n" +
			"pinning a variant belay.yaml no longer defines (the flag is served DISABLED until it is set again or\n" +
			"reset), or one of a flag belay.yaml no longer defines (it serves nothing; reset removes it).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var vs []api.FlagView
			if err := c.do(cmd.Context(), "GET", flagsPath(env), nil, &vs); err != nil {
				return err
			}
			diff := disagreeing(vs)
			return g.emit(cmd.OutOrStdout(), diff, func(w io.Writer) error { return printDiff(w, diff, overrides(vs)) })
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&env, "env", "", "environment (default every one)")
	return cmd
}

// disagreeing are the flags whose override differs from belay.yaml or
// cannot apply.
func disagreeing(vs []api.FlagView) []api.FlagView {
	out := []api.FlagView{}
	for _, v := range vs {
		if v.Override != nil && (len(v.Differences) > 0 || v.Problem != "") {
			out = append(out, v)
		}
	}
	return out
}

func overrides(vs []api.FlagView) int {
	n := 0
	for _, v := range vs {
		if v.Override != nil {
			n++
		}
	}
	return n
}

// printDiff prints a row per difference, then the overrides that cannot
// apply, saying why; or that all overrides agree with belay.yaml.
func printDiff(w io.Writer, diff []api.FlagView, overrides int) error {
	if len(diff) == 0 {
		_, err := fmt.Fprintf(w, "overrides and belay.yaml agree (%d %s)\n", overrides, plural(overrides, "override"))
		return err
	}
	var rows, problems []string
	for _, v := range diff {
		o := v.Override
		by := fmt.Sprintf("%s %s: %s", o.Actor, o.At.UTC().Format(time.RFC3339), o.Reason)
		for _, d := range v.Differences {
			rows = append(rows, strings.Join([]string{v.Environment, v.Key, d.Field, d.File, d.Override, by}, "\t"))
		}
		if v.Problem != "" {
			problems = append(problems, fmt.Sprintf("%s %s: %s (set by %s)", v.Environment, v.Key, v.Problem, by))
		}
	}
	if len(rows) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ENVIRONMENT\tFLAG\tFIELD\tBELAY.YAML\tOVERRIDE\tSET BY")
		fmt.Fprintln(tw, strings.Join(rows, "\n"))
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, p := range problems {
		if _, err := fmt.Fprintln(w, p); err != nil {
			return err
		}
	}
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
