package cli

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/belay-dev/belay/internal/demo"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newDemoCmd) }

func newDemoCmd(g *Globals) *cobra.Command {
	o := demo.Options{RPS: 150}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Watch belay ship a good release and catch a bad one, on this host, in about a minute",
		Long: "demo builds the bundled example service three times (good v1, good v2, v3 with a bug), starts a\n" +
			"server and agent with state in a temporary directory, sends load, and walks v1 to staging and\n" +
			"production, v2 through a canary to promotion, and v3 through a canary that belay rolls back by\n" +
			"itself, printing the evidence. It needs git and the Go toolchain.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			o.Self, o.Argv0 = self, os.Args[0]
			if g.Output == "json" {
				o.Out = io.Discard
			} else {
				o.Out = cmd.OutOrStdout()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := demo.Run(ctx, o)
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			if g.Output == "json" {
				return g.emit(cmd.OutOrStdout(), s, nil)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "keep the project and leave server and agent running afterwards")
	cmd.Flags().StringVar(&o.Dir, "dir", "", "work directory (default: a new temporary directory)")
	cmd.Flags().IntVar(&o.RPS, "rps", o.RPS, "requests per second sent to production")
	return cmd
}
