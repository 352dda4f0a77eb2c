package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/belay-dev/belay/internal/server"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newWaitCmd) }

func newWaitCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var phase string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait <rollout> [--for PHASE] [--timeout D]",
		Short: "Wait until a rollout reaches a phase (default: until it ends); exit 1 if it ends otherwise",
		Long: "wait polls a rollout until it is in --for (e.g. Canary, AwaitingApproval, Succeeded) or, without\n" +
			"--for, until it ends. It exits 1 when the rollout ends in another phase or the timeout passes, so\n" +
			"CI jobs can gate on it: `belay wait 12 --for Succeeded`.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := strconv.ParseInt(args[0], 10, 64); err != nil {
				return fmt.Errorf("rollout %q is not a rollout number: see `belay status`", args[0])
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			v, err := waitRollout(ctx, c, args[0], phase)
			if err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), v, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "rollout %d (%s in %s): %s\n", v.ID, v.Version, v.Environment, v.Phase)
				return err
			})
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&phase, "for", "", "phase to wait for (default: any end: Succeeded, RolledBack or Failed)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
	return cmd
}

func waitRollout(ctx context.Context, c *apiClient, id, phase string) (server.RolloutView, error) {
	for {
		var v server.RolloutView
		err := c.do(ctx, "GET", "/rollouts/"+id, nil, &v)
		switch {
		case err != nil && ctx.Err() == nil:
			return v, err
		case err == nil && (phase == "" && v.Terminal || phase != "" && v.Phase == phase):
			return v, nil
		case err == nil && v.Terminal:
			return v, &exitError{code: 1, err: fmt.Errorf("rollout %s ended %s, not %s: see `belay explain %s`", id, v.Phase, phase, id)}
		}
		select {
		case <-ctx.Done():
			return v, &exitError{code: 1, err: fmt.Errorf("rollout %s is still %s after the timeout (waiting for %s)", id, v.Phase, dash(phase))}
		case <-time.After(200 * time.Millisecond):
		}
	}
}
