package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/belay-dev/belay/internal/server"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newRollbackCmd) }

func newRollbackCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env, to string
	var acceptContract bool
	cmd := &cobra.Command{
		Use:   "rollback <service> --env E [--to VERSION] --reason WHY",
		Short: "Roll a service back now: the target version takes 100 %, no analysis; audited",
		Long: "rollback is the fast path. With a rollout in flight it returns traffic to the previous stable (or\n" +
			"--to). Otherwise --to (default: the stable version before the current one) takes all traffic,\n" +
			"started first when it no longer runs. Rolling back past a contract migration needs --accept-contract.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if env == "" || f.reason == "" {
				return fmt.Errorf("rollback needs --env and --reason")
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			req := server.RollbackRequest{Service: args[0], CommandRequest: server.CommandRequest{Actor: actor(cmd), Reason: f.reason, Env: env, To: to}, AcceptContract: acceptContract}
			var ans json.RawMessage
			if err := c.do(cmd.Context(), "POST", "/rollback", req, &ans); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), ans, func(w io.Writer) error {
				var r server.RollbackAnswer
				if json.Unmarshal(ans, &r) == nil && r.To != "" {
					_, err := fmt.Fprintf(w, "%s in %s rolled back from %s to %s\n", r.Service, r.Environment, r.From, r.To)
					return err
				}
				var st struct {
					ID    string `json:"id"`
					Phase string `json:"phase"`
				}
				_ = json.Unmarshal(ans, &st)
				_, err := fmt.Fprintf(w, "rollout %s of %s in %s is rolling back (%s)\n", st.ID, args[0], env, st.Phase)
				return err
			})
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.Flags().StringVar(&to, "to", "", "version to return to (any verified artifact)")
	cmd.Flags().BoolVar(&acceptContract, "accept-contract", false, "roll back past a contract migration: the older version will run against the newer schema")
	return cmd
}
