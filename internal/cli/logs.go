package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

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
		Long: "logs prints the last lines of each instance's log, each prefixed VERSION/INSTANCE |. With -o json\n" +
			"it prints one JSON object per line: environment, service, version, instance and line.",
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
			var w io.Writer = cmd.OutOrStdout()
			if g.Output == "json" {
				jl := &logLines{out: json.NewEncoder(w), env: env, service: args[0]}
				defer jl.flush()
				w = jl
			}
			return local.Unix(sock).Logs(ctx, env, args[0], version, lines, follow, w)
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

// LogLine is one line of `belay logs -o json`.
type LogLine struct {
	Environment string `json:"environment"`
	Service     string `json:"service"`
	Version     string `json:"version,omitempty"`
	Instance    string `json:"instance,omitempty"`
	Line        string `json:"line"`
}

// logLines turns the agent's "VERSION/INSTANCE | text" lines into JSON
// lines, holding back a line until its newline arrives.
type logLines struct {
	out          *json.Encoder
	env, service string
	partial      []byte
}

func (l *logLines) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if err := l.emit(line); err != nil {
			return 0, err
		}
	}
}

func (l *logLines) flush() {
	if len(l.partial) > 0 {
		_ = l.emit(string(l.partial))
		l.partial = nil
	}
}

func (l *logLines) emit(line string) error {
	ll := LogLine{Environment: l.env, Service: l.service, Line: line}
	if who, text, ok := strings.Cut(line, " | "); ok {
		if v, inst, ok := strings.Cut(who, "/"); ok && !strings.Contains(who, " ") {
			ll.Version, ll.Instance, ll.Line = v, inst, text
		}
	}
	return l.out.Encode(ll)
}
