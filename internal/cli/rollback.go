package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newRollbackCmd) }

func newRollbackCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env, to string
	var acceptContract, force bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "rollback <service> --env E [--to VERSION [--force]] --reason WHY",
		Short: "Roll a service back now: the target version takes 100 %, no analysis; audited",
		Long: "rollback is the fast path. With a rollout in flight it returns traffic to the previous stable (or\n" +
			"--to). Otherwise a rollback rollout gives --to (default: the newest earlier stable version that was\n" +
			"never rolled back) all traffic, started first when it no longer runs; rollback waits for it.\n" +
			"--to must name a version that was stable in that environment and never rolled back anywhere;\n" +
			"any other verified version needs --force, which the audit entry records. The version rolled\n" +
			"back from is marked rejected. Rolling back past a contract migration needs --accept-contract.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if env == "" || f.reason == "" {
				return fmt.Errorf("rollback needs --env and --reason")
			}
			if force && to == "" {
				return fmt.Errorf("--force needs --to: it allows a version that was rolled back or never stable in %s", env)
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			req := api.RollbackRequest{Service: args[0], CommandRequest: api.CommandRequest{Reason: f.reason, Env: env, To: to},
				AcceptContract: acceptContract, Force: force}
			var ans api.RollbackAnswer
			if err := c.do(cmd.Context(), "POST", "/rollback", req, &ans); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			v, err := waitRollout(ctx, c, strconv.FormatInt(ans.Rollout, 10), "RolledBack")
			if err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), ans, func(w io.Writer) error {
				if ans.Forced != "" {
					fmt.Fprintf(w, "forced: %s\n", ans.Forced)
				}
				_, err := fmt.Fprintf(w, "%s in %s rolled back from %s to %s (rollout %d, %s)\n", ans.Service, ans.Environment, ans.From, ans.To, v.ID, v.Phase)
				return err
			})
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.Flags().StringVar(&to, "to", "", "version to return to (default: the newest earlier stable version never rolled back)")
	cmd.Flags().BoolVar(&force, "force", false, "allow --to a version that was rolled back somewhere or never stable in --env")
	cmd.Flags().BoolVar(&acceptContract, "accept-contract", false, "roll back past a contract migration: the older version will run against the newer schema")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for traffic to be back")
	return cmd
}
