package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/explain"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newExplainCmd) }

func newExplainCmd(g *Globals) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "explain <rollout>",
		Short: "Tell a rollout's story: every transition with the numbers behind each decision",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var v api.RolloutView
			if err := c.do(cmd.Context(), "GET", "/rollouts/"+args[0], nil, &v); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), v, func(w io.Writer) error { return printExplain(w, v) })
		},
	}
	f.add(cmd, false)
	return cmd
}

// printExplain tells the rollout in two layers: first what settled it in
// plain words, then every decision — its story, then the transition and the
// numbers it rests on.
func printExplain(w io.Writer, v api.RolloutView) error {
	fmt.Fprintf(w, "rollout %d: %s of %s in %s (release %d) — %s\n", v.ID, v.Version, v.Service, v.Environment, v.Release, v.Phase)
	if s := v.Summary; s != nil {
		for _, line := range s.Story {
			fmt.Fprintf(w, "  %s\n", line)
		}
		if s.Next != "" {
			fmt.Fprintf(w, "  What you can do: %s\n", s.Next)
		}
		fmt.Fprintln(w)
	}
	stories := map[int64][]string{}
	for _, d := range v.Decisions {
		stories[d.Seq] = d.Story
	}
	start := v.CreatedAt
	for i, t := range v.Transitions {
		if explain.Bookkeeping(v.Transitions, i) {
			continue
		}
		at := fmt.Sprintf("%+7.1fs  ", t.At.Sub(start).Seconds())
		for _, line := range stories[t.Seq] {
			fmt.Fprintf(w, "%s%s\n", at, line)
			at = strings.Repeat(" ", len(at))
		}
		by := ""
		if t.Override {
			by = fmt.Sprintf(" [override by %s]", t.Actor)
		}
		fmt.Fprintf(w, "%s%s → %s%s: %s\n", at, dash(string(t.From)), t.To, by, t.Reason)
		if t.Verdict != nil {
			printVerdict(w, *t.Verdict)
		}
		if len(t.Evidence) > 0 && t.Verdict == nil && string(t.Evidence) != "null" {
			fmt.Fprintf(w, "             evidence: %s\n", compact(t.Evidence, 300))
		}
	}
	return nil
}

func printVerdict(w io.Writer, v analysis.Verdict) {
	fmt.Fprintf(w, "             verdict %s: %s\n", v.Decision, v.Reason)
	for _, e := range v.Evidence {
		fmt.Fprintf(w, "               %-28s %-8s canary %s%s  stable %s%s  threshold %s%s\n",
			e.Check, e.State, num(e.Canary), count(e.CanaryN), num(e.Baseline), count(e.StableN), num(e.Threshold), statistic(e))
	}
}

// count shows a request count where the check has one.
func count(n int64) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (n=%d)", n)
}

// statistic shows the e-value of the checks that have one (the sequential
// tests and SRM; an e-value is never 0).
func statistic(e analysis.Evidence) string {
	if e.Statistic == 0 {
		return ""
	}
	return fmt.Sprintf("  e=%.3g", e.Statistic)
}

func num(f float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", f), "0"), ".")
}

func compact(b json.RawMessage, max int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
