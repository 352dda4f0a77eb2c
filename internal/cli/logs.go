package cli

import (
	"fmt"
	"os"
	"os/signal"

	"github.com/belay-dev/belay/internal/target/local"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newLogsCmd) }

func newLogsCmd(g *Globals) *cobra.Command {
	var env, version, socket string
	var follow bool
	var lines int
	cmd := &cobra.Command{
		Use:   "logs <service>",
		Short: "Print a service's instance logs from the local agent",
		Example: "  belay logs api --env staging\n" +
			"  belay logs api --env production --version api-2026.05.12-8f3a91c -f",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if env == "" {
				return fmt.Errorf("flag --env missing: name the environment, e.g. --env staging")
			}
			_, sock := agentPaths(g, "", socket)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			return local.Unix(sock).Logs(ctx, env, args[0], version, lines, follow, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&env, "env", "", "environment (required)")
	f.StringVar(&version, "version", "", "only this version's instances")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new lines")
	f.IntVarP(&lines, "lines", "n", 100, "last lines to print per instance")
	f.StringVar(&socket, "socket", "", "agent API socket (env BELAY_AGENT_SOCKET; default HOME/agent/agent.sock)")
	return cmd
}
