package cli

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/dora"
	"github.com/belay-dev/belay/internal/english"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newDORACmd) }

func newDORACmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env, since string
	cmd := &cobra.Command{
		Use:   "dora [service] [--env E] [--since 30d]",
		Short: "Show the DORA figures of an environment from belay's own records",
		Long: "dora shows deployment frequency, lead time (artifact build → Succeeded), change failure rate and\n" +
			"time to restore of a service (every service when none is named) in an environment (default: the\n" +
			"last in promotion order) over the window that ends now (--since: 30d, 4w, 12h). A figure with\n" +
			"nothing to measure says \"no data\", never 0. docs/dora.md defines each figure exactly.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := dora.ParseWindow(since); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			q := url.Values{"since": {since}}
			if len(args) == 1 {
				q.Set("service", args[0])
			}
			if env != "" {
				q.Set("environment", env)
			}
			var rep api.DORAReport
			if err := c.do(cmd.Context(), "GET", "/dora?"+q.Encode(), nil, &rep); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), rep, func(w io.Writer) error { return printDORA(w, rep) })
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&env, "env", "", "environment (default: the last in promotion order)")
	cmd.Flags().StringVar(&since, "since", dora.DefaultWindow, "the window, ending now: days (30d), weeks (4w) or a duration (12h)")
	return cmd
}

func printDORA(w io.Writer, rep api.DORAReport) error {
	who := rep.Service
	if who == "" {
		who = "every service"
	}
	fmt.Fprintf(w, "%s in %s over %s (%s → %s)\n", who, rep.Environment, rep.Since,
		rep.From.UTC().Format("2006-01-02 15:04"), rep.To.UTC().Format("2006-01-02 15:04 MST"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tN")
	d := rep.DeploymentFrequency
	fmt.Fprintf(tw, "deployment frequency\t%.2f a day, %.2f a week\t%s\n", d.PerDay, d.PerWeek, english.Count(d.Deployments, "deployment"))
	lead := english.Count(rep.LeadTime.N, "deployment")
	if rep.LeadTimeUnknown > 0 {
		lead += fmt.Sprintf(" (%d without a build record)", rep.LeadTimeUnknown)
	}
	fmt.Fprintf(tw, "lead time (commit → deployed)\t%s\t%s\n", spread(rep.LeadTime), lead)
	r := rep.ChangeFailureRate
	rate := "no data"
	if r.Rate != nil {
		rate = fmt.Sprintf("%.0f%% (%d of %d)", *r.Rate*100, r.Failed, r.Changes)
	}
	fmt.Fprintf(tw, "change failure rate\t%s\t%s%s\n", rate, english.Count(r.Changes, "change"), rolloutList(" failed", r.Rollouts))
	restore := english.Count(rep.TimeToRestore.N, "restore")
	if len(rep.Unrestored) > 0 {
		restore += rolloutList(" not restored", rep.Unrestored)
	}
	fmt.Fprintf(tw, "time to restore\t%s\t%s\n", spread(rep.TimeToRestore), restore)
	return tw.Flush()
}

// spread is "median 3h 0m, p90 18h 0m", or "no data".
func spread(d api.DORADurations) string {
	if d.N == 0 || d.MedianSeconds == nil || d.P90Seconds == nil {
		return "no data"
	}
	return "median " + span(*d.MedianSeconds) + ", p90 " + span(*d.P90Seconds)
}

// rolloutList is "; failed: #4 #6", or "" for none.
func rolloutList(what string, ids []int64) string {
	if len(ids) == 0 {
		return ""
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprintf("#%d", id)
	}
	return ";" + what + ": " + strings.Join(s, " ")
}

// span writes seconds at a glance: "40s", "12m 5s", "3h 20m", "2d 4h".
func span(sec float64) string {
	d := time.Duration(sec * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd %dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}
