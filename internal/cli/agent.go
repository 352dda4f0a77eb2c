package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/belay-dev/belay/internal/agent"
	"github.com/belay-dev/belay/internal/agent/proxy"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newAgentCmd) }

// agentPaths resolves the agent's state directory and socket from flags,
// BELAY_AGENT_* variables and the home directory.
func agentPaths(g *Globals, state, socket string) (string, string) {
	if state == "" {
		state = os.Getenv("BELAY_AGENT_STATE")
	}
	if state == "" {
		state = filepath.Join(g.HomeDir(""), "agent")
	}
	if socket == "" {
		socket = os.Getenv("BELAY_AGENT_SOCKET")
	}
	if socket == "" {
		socket = filepath.Join(state, "agent.sock")
	}
	return state, socket
}

func newAgentCmd(g *Globals) *cobra.Command {
	var state, socket, listenAPI, token, file string
	var stopOnExit bool
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the data plane on this host: supervise service processes and route traffic between versions",
		Long: "belay agent runs services' versions as supervised processes and splits each service's traffic between\n" +
			"them through a measuring reverse proxy. Its desired state is kept in --state; after a restart (even\n" +
			"after kill -9) it restores routing and adopts the instances that kept running. On SIGINT/SIGTERM it\n" +
			"stops routing and leaves the instances running for the next agent, unless --stop-on-exit is given.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			state, socket = agentPaths(g, state, socket)
			if token == "" {
				token = os.Getenv("BELAY_AGENT_TOKEN")
			}
			debug.SetGCPercent(proxy.GCPercent)
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
			opener, err := newAgentOpener(g, projectFileFor(file))
			if err != nil {
				return err
			}
			a, err := agent.New(agent.Config{StateDir: state, Opener: opener, Log: log})
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := a.Restore(ctx); err != nil {
				return err
			}
			if _, err := a.ServeUnix(ctx, socket); err != nil {
				a.Close(false)
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "agent: API on unix socket %s, state in %s\n", socket, state)
			if listenAPI != "" {
				l, err := a.ServeTCP(ctx, listenAPI, token)
				if err != nil {
					a.Close(false)
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "agent: API on http://%s (bearer token required; /metrics open)\n", l.Addr())
			}
			<-ctx.Done()
			a.Close(stopOnExit)
			_ = os.Remove(socket)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&state, "state", "", "directory for the agent's desired state, pid files and logs (env BELAY_AGENT_STATE; default HOME/agent)")
	f.StringVar(&socket, "socket", "", "unix socket for the agent API (env BELAY_AGENT_SOCKET; default STATE/agent.sock)")
	f.StringVar(&listenAPI, "listen-api", "", "also serve the API on this loopback address, e.g. 127.0.0.1:7070 (needs --token)")
	f.StringVar(&token, "token", "", "bearer token for --listen-api (env BELAY_AGENT_TOKEN)")
	f.StringVarP(&file, "file", "f", "", "project belay.yaml whose artifact store and trusted keys verify what the agent runs (default ./belay.yaml when present)")
	f.BoolVar(&stopOnExit, "stop-on-exit", false, "stop every service instance when the agent exits")
	return cmd
}
