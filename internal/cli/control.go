package cli

import (
	"fmt"
	"io"
	"strconv"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/spf13/cobra"
)

func init() {
	for _, c := range []struct{ verb, short string }{
		{"pause", "Pause a rollout where it is (traffic stays as it is); audited as an override"},
		{"resume", "Resume a paused rollout; audited as an override"},
		{"promote", "Promote a rollout now, skipping the remaining analysis; audited as an override"},
		{"abort", "Abort a rollout: the previous stable takes all traffic again; audited as an override"},
	} {
		commands = append(commands, func(g *Globals) *cobra.Command { return newControlCmd(g, c.verb, c.short) })
	}
	commands = append(commands, newApproveCmd)
}

func newControlCmd(g *Globals, verb, short string) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   verb + " <rollout> --reason WHY",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := strconv.ParseInt(args[0], 10, 64); err != nil {
				return fmt.Errorf("rollout %q is not a rollout number: see `belay status`", args[0])
			}
			if f.reason == "" {
				return fmt.Errorf("%s needs --reason: overrides are audited with why they were made", verb)
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var st rollout.State
			req := api.CommandRequest{Reason: f.reason}
			if err := c.do(cmd.Context(), "POST", "/rollouts/"+args[0]+"/"+verb, req, &st); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), st, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "rollout %s (%s in %s): %s accepted by %s, now %s\n", args[0], st.New.Version, st.Environment, verb, c.whoami(cmd.Context()), st.Phase)
				return err
			})
		},
	}
	f.add(cmd, true)
	return cmd
}

func newApproveCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env string
	cmd := &cobra.Command{
		Use:   "approve <release> --env E",
		Short: "Approve a release into an environment that requires approval; audited",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if env == "" {
				return fmt.Errorf("approve needs --env: the environment the release may enter")
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var st rollout.State
			req := api.CommandRequest{Reason: f.reason, Env: env}
			if err := c.do(cmd.Context(), "POST", "/releases/"+args[0]+"/approve", req, &st); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), st, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "release %s approved for %s by %s: rollout %s is %s\n", args[0], env, c.whoami(cmd.Context()), st.ID, st.Phase)
				return err
			})
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&env, "env", "", "environment")
	return cmd
}
