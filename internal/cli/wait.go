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

func init() { commands = append(commands, newWaitCmd) }

func newWaitCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var phase string
	var rel int64
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait <rollout> [--for PHASE] | wait --release N  [--timeout D]",
		Short: "Wait for a rollout or a whole release; exit 1 unless it succeeded",
		Long: "wait polls a rollout until it is in --for (e.g. Canary, AwaitingApproval, Succeeded) or, without\n" +
			"--for, until it ends: exit 0 only when it Succeeded. --release N follows a release through every\n" +
			"environment, queues included: exit 0 only once it is stable in the last one; exit 1 with the\n" +
			"reason when it was rolled back, failed or cancelled, or when the timeout passes. CI jobs gate on\n" +
			"it: `belay wait --release 12`.",
		Args: func(cmd *cobra.Command, args []string) error {
			if rel > 0 && len(args) == 0 || rel == 0 && len(args) == 1 {
				return nil
			}
			return fmt.Errorf("give a rollout number, or --release N (not both)")
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if rel > 0 {
				v, err := waitRelease(ctx, c, rel)
				if err != nil {
					return err
				}
				return g.emit(cmd.OutOrStdout(), v, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "release %d (%s) %s: %s\n", v.ID, v.Version, v.Outcome, v.Reason)
					return err
				})
			}
			if _, err := strconv.ParseInt(args[0], 10, 64); err != nil {
				return fmt.Errorf("rollout %q is not a rollout number: see `belay status`", args[0])
			}
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
	cmd.Flags().StringVar(&phase, "for", "", "phase to wait for (default: the end; exit 1 unless Succeeded)")
	cmd.Flags().Int64Var(&rel, "release", 0, "follow release N through every environment")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
	return cmd
}

func waitRollout(ctx context.Context, c *apiClient, id, phase string) (api.RolloutView, error) {
	want := phase
	if want == "" {
		want = "Succeeded"
	}
	// A release's next rollout is created a tick after the promotion that
	// queues it: a rollout not there yet is given a few seconds to appear.
	appear := time.Now().Add(5 * time.Second)
	for {
		var v api.RolloutView
		err := c.do(ctx, "GET", "/rollouts/"+id, nil, &v)
		switch {
		case err != nil && notFound(err) && time.Now().Before(appear):
		case err != nil && ctx.Err() == nil:
			return v, err
		case err == nil && v.Phase == want:
			return v, nil
		case err == nil && v.Terminal:
			return v, &exitError{code: 1, err: fmt.Errorf("rollout %s ended %s, not %s: %s; see `belay explain %s`", id, v.Phase, want, v.Reason, id)}
		}
		select {
		case <-ctx.Done():
			return v, &exitError{code: 1, err: fmt.Errorf("rollout %s is still %s after the timeout (waiting for %s)", id, v.Phase, want)}
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func waitRelease(ctx context.Context, c *apiClient, id int64) (api.ReleaseView, error) {
	for {
		var v api.ReleaseView
		err := c.do(ctx, "GET", fmt.Sprintf("/releases/%d", id), nil, &v)
		switch {
		case err != nil && ctx.Err() == nil:
			return v, err
		case err == nil && v.Done && v.Outcome == api.OutcomeSucceeded:
			return v, nil
		case err == nil && v.Done:
			return v, &exitError{code: 1, err: fmt.Errorf("release %d (%s) %s: %s", id, v.Version, v.Outcome, v.Reason)}
		}
		select {
		case <-ctx.Done():
			return v, &exitError{code: 1, err: fmt.Errorf("release %d is still %s after the timeout: %s", id, dash(v.Outcome), v.Reason)}
		case <-time.After(250 * time.Millisecond):
		}
	}
}
