package cli

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/english"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newStatusCmd, newHistoryCmd) }

func newStatusCmd(g *Globals) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "status [service]",
		Short: "Show what runs where: stable versions, rollouts in flight, weights and health",
		Long: "status shows, per service and environment, the stable version, the rollout in flight, releases\n" +
			"queued there and the traffic each version takes. A stable version that was rolled back in another\n" +
			"environment is marked with where and when (\"rolled back in production 12 min ago\"), and a note\n" +
			"under the table says what on_rejected_downstream does about it and gives the command that rolls\n" +
			"this environment back too.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			q := ""
			if len(args) == 1 {
				q = "?service=" + url.QueryEscape(args[0])
			}
			var st []api.ServiceStatus
			if err := c.do(cmd.Context(), "GET", "/status"+q, nil, &st); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), st, func(w io.Writer) error { return printStatus(w, st, time.Now()) })
		},
	}
	f.add(cmd, false)
	return cmd
}

// printStatus prints the status table, then notes; now is the clock that
// says how long ago a version was rolled back.
func printStatus(w io.Writer, st []api.ServiceStatus, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tENVIRONMENT\tSTABLE\tROLLOUT\tTRAFFIC")
	var notes []string
	for _, s := range st {
		for _, e := range s.Environments {
			stable, ro := dash(e.Stable), "-"
			if e.Rejected {
				stable += " (rolled back " + rejectedWhen(e, now) + ")"
				notes = append(notes, rejectedNote(s.Service, e, now))
			}
			if r := e.Rollout; r != nil {
				ro = fmt.Sprintf("#%d %s %s", r.ID, r.Version, r.Phase)
				if r.WatchLeft != "" {
					ro += " (" + r.WatchLeft + " of watch left)"
				}
			}
			for _, q := range e.Queue {
				notes = append(notes, fmt.Sprintf("queued for %s: release %d (%s), entry %d: %s; cancel with `belay queue cancel %d`",
					e.Environment, q.Release, q.Version, q.ID, q.Reason, q.ID))
			}
			var traffic []string
			if o := e.Observed; o != nil {
				for _, v := range o.Versions {
					traffic = append(traffic, fmt.Sprintf("%s %.1f%% (%d/%d ready)", v.Version, v.Weight, v.Ready, v.Instances))
				}
			}
			if e.ObserveErr != "" {
				traffic = append(traffic, "unobservable: "+e.ObserveErr)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Service, e.Environment, stable, ro, dash(strings.Join(traffic, ", ")))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	return nil
}

// rejectedWhen says where and when e's stable version was rolled back:
// "in production 12 min ago", or "elsewhere" from a server that does not say.
func rejectedWhen(e api.EnvStatus, now time.Time) string {
	if e.RejectedIn == "" || e.RejectedAt == nil {
		return "elsewhere"
	}
	return "in " + e.RejectedIn + " " + english.Ago(now.Sub(*e.RejectedAt))
}

// rejectedNote tells what runs in e although a later environment rolled it
// back, what e's on_rejected_downstream does about it, and the command
// that rolls e back too.
func rejectedNote(svc string, e api.EnvStatus, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %s runs %s, which was rolled back %s", svc, e.Environment, e.Stable, rejectedWhen(e, now))
	if e.RejectedRollout > 0 {
		fmt.Fprintf(&b, " (why: `belay explain %d`)", e.RejectedRollout)
	}
	cmd := fmt.Sprintf("`belay rollback %s --env %s --reason …`", svc, e.Environment)
	switch {
	case e.OnRejected == string(spec.DownstreamRollback) && e.RollbackTo != "":
		fmt.Fprintf(&b, "; on_rejected_downstream: rollback, so belay rolls %s back to %s by itself", e.Environment, e.RollbackTo)
	case e.RollbackTo != "":
		fmt.Fprintf(&b, "; on_rejected_downstream: %s, so %s keeps it. To roll %s back to %s too: %s",
			dash(e.OnRejected), e.Environment, e.Environment, e.RollbackTo, cmd)
	default:
		fmt.Fprintf(&b, "; %s has no earlier stable version that was never rolled back: release a fixed version, or name one with `belay rollback %s --env %s --to <version> --force --reason …`",
			e.Environment, svc, e.Environment)
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newHistoryCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env string
	cmd := &cobra.Command{
		Use:   "history <service> [--env E]",
		Short: "List a service's rollouts, in one environment or in all, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			q := url.Values{"service": {args[0]}}
			if env != "" {
				q.Set("environment", env)
			}
			var rs []api.RolloutView
			if err := c.do(cmd.Context(), "GET", "/history?"+q.Encode(), nil, &rs); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), rs, func(w io.Writer) error { return printHistory(w, rs, env == "") })
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&env, "env", "", "only this environment (default: every environment)")
	return cmd
}

// printHistory prints rollouts newest first, with an ENVIRONMENT column
// when they are of every environment.
func printHistory(w io.Writer, rs []api.RolloutView, allEnvs bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	envCol := func(s string) string {
		if allEnvs {
			return s + "\t"
		}
		return ""
	}
	fmt.Fprintln(tw, "ROLLOUT\tRELEASE\t"+envCol("ENVIRONMENT")+"VERSION\tPHASE\tSTARTED\tUPDATED")
	for _, r := range rs {
		fmt.Fprintf(tw, "%d\t%d\t%s%s\t%s\t%s\t%s\n", r.ID, r.Release, envCol(r.Environment), r.Version, r.Phase,
			r.CreatedAt.Local().Format("2006-01-02 15:04:05"), r.UpdatedAt.Local().Format("15:04:05"))
	}
	return tw.Flush()
}
