package cli

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/belay-dev/belay/internal/api"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newStatusCmd, newHistoryCmd) }

func newStatusCmd(g *Globals) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "status [service]",
		Short: "Show what runs where: stable versions, rollouts in flight, weights and health",
		Args:  cobra.MaximumNArgs(1),
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
			return g.emit(cmd.OutOrStdout(), st, func(w io.Writer) error { return printStatus(w, st) })
		},
	}
	f.add(cmd, false)
	return cmd
}

func printStatus(w io.Writer, st []api.ServiceStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tENVIRONMENT\tSTABLE\tROLLOUT\tTRAFFIC")
	var notes []string
	for _, s := range st {
		for _, e := range s.Environments {
			stable, ro := dash(e.Stable), "-"
			if e.Rejected {
				stable += " (rolled back elsewhere)"
				notes = append(notes, fmt.Sprintf("%s in %s runs %s, which was rolled back in a later environment; on_rejected_downstream: %s",
					s.Service, e.Environment, e.Stable, dash(e.OnRejected)))
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
