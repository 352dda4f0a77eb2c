package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/rollout"
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
			"it: `belay wait --release 12`. A rollout or release that does not exist fails at once, unless a\n" +
			"release under way (in flight or queued) may still create that rollout.",
		Args: func(cmd *cobra.Command, args []string) error {
			// --release 0 is given to the server, which says there is no such release
			if cmd.Flags().Changed("release") == (len(args) == 0) && len(args) <= 1 {
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
			if cmd.Flags().Changed("release") {
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

// waitRollout polls rollout id until it is in phase (default: the end).
// A rollout the server does not know fails at once, unless a release
// waiting in the queue may still create it.
func waitRollout(ctx context.Context, c *apiClient, id, phase string) (api.RolloutView, error) {
	want := phase
	if want == "" {
		want = "Succeeded"
	}
	for {
		var v api.RolloutView
		err := c.do(ctx, "GET", "/rollouts/"+id, nil, &v)
		if err != nil && notFound(err) && ctx.Err() == nil {
			err = c.missingRollout(ctx, id, err)
		}
		switch {
		case err != nil && ctx.Err() == nil:
			return v, err
		case err == nil && v.Phase == want:
			return v, nil
		case err == nil && v.Terminal:
			return v, &exitError{code: 1, err: fmt.Errorf("rollout %s ended %s, not %s: %s; see `belay explain %s`", id, v.Phase, want, v.Reason, id)}
		}
		select {
		case <-ctx.Done():
			if v.ID == 0 {
				return v, &exitError{code: 1, err: fmt.Errorf("rollout %s was not created before the timeout: the releases waiting in `belay queue` create the next rollouts", id)}
			}
			return v, &exitError{code: 1, err: fmt.Errorf("rollout %s is still %s after the timeout (waiting for %s)", id, v.Phase, want)}
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// missingRollout decides about rollout id, which the server answered
// notFound for: nil when a release under way may still create it, else the
// error to fail with at once. A release's rollout that succeeds, short of
// the last environment, queues the release for the next one in the same
// transaction, and the queue pump creates that rollout (numbered in order)
// a tick later.
func (c *apiClient) missingRollout(ctx context.Context, id string, notFound error) error {
	n, _ := strconv.ParseInt(id, 10, 64)
	const hint = "see rollout numbers with `belay status` or `belay history <service>`"
	if n <= 0 {
		return withHint(notFound, hint) // the server says ids start at 1
	}
	// Looked at in this order, a future rollout is seen at one of its stages
	// however it moves on meanwhile: its creator in flight, its queue entry
	// waiting, or itself. A creator seen twice only makes wait patient.
	var active []api.RolloutView
	if err := c.do(ctx, "GET", "/rollouts?active=1", nil, &active); err != nil {
		return err
	}
	var queue []api.QueueView
	if err := c.do(ctx, "GET", "/queue", nil, &queue); err != nil {
		return err
	}
	var all []api.RolloutView
	if err := c.do(ctx, "GET", "/rollouts", nil, &all); err != nil {
		return err
	}
	pending := int64(len(queue))
	for _, r := range active {
		if r.Kind == rollout.KindRelease && !c.inLastEnvironment(ctx, r) {
			pending++
		}
	}
	var newest int64
	for _, r := range all {
		newest = max(newest, r.ID)
	}
	var msg string
	switch {
	case n <= newest:
		// created since the first answer, or never (a gap in the numbers)
		var v api.RolloutView
		if err := c.do(ctx, "GET", "/rollouts/"+id, nil, &v); err == nil {
			return nil
		}
		msg = fmt.Sprintf("no rollout %d: it was never created (the newest is rollout %d)", n, newest)
	case n <= newest+pending:
		return nil
	case newest == 0:
		msg = fmt.Sprintf("no rollout %d: there is no rollout yet, and no release is under way to start one", n)
	case pending == 0:
		msg = fmt.Sprintf("no rollout %d: the newest is rollout %d, and no release is under way to start another", n, newest)
	default:
		msg = fmt.Sprintf("no rollout %d: the newest is rollout %d, and the releases under way would start at most rollout %d", n, newest, newest+pending)
	}
	return &hintError{code: httpCode(http.StatusNotFound), msg: msg, hint: hint, err: notFound}
}

// inLastEnvironment reports whether r runs in its release's last
// environment, so that its success starts no other rollout.
func (c *apiClient) inLastEnvironment(ctx context.Context, r api.RolloutView) bool {
	var rel api.ReleaseView
	if err := c.do(ctx, "GET", fmt.Sprintf("/releases/%d", r.Release), nil, &rel); err != nil || len(rel.Environments) == 0 {
		return false
	}
	return rel.Environments[len(rel.Environments)-1] == r.Environment
}

// withHint adds what to do to the server's 404.
func withHint(err error, hint string) error {
	var se *statusError
	if errors.As(err, &se) && se.code == http.StatusNotFound {
		return &hintError{code: httpCode(se.code), msg: se.msg, hint: hint, err: err}
	}
	return err
}

func waitRelease(ctx context.Context, c *apiClient, id int64) (api.ReleaseView, error) {
	for {
		var v api.ReleaseView
		err := c.do(ctx, "GET", fmt.Sprintf("/releases/%d", id), nil, &v)
		switch {
		case err != nil && ctx.Err() == nil:
			return v, withHint(err, "`belay release` prints a release's number; `belay history <service>` lists them in its RELEASE column")
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
