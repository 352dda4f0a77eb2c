package cli

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/atomicfile"
	"github.com/belay-dev/belay/internal/slo"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newSLOCmd) }

func newSLOCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env string
	cmd := &cobra.Command{
		Use:   "slo [--env E]",
		Short: "Show each service's SLO: error budget left and burn rates",
		Long: "slo shows, for every service with an slo: in belay.yaml and every environment (or --env), its\n" +
			"objective and window, the error budget left over the window, the burn rate over each window pair\n" +
			"of the SRE workbook's alerts (long/short; * when both exceed the pair's factor, so it fires) and\n" +
			"the status: ok, ticket, page, or no_data. The windows are read from the service's analysis\n" +
			"source: the server's samples (builtin) or Prometheus. docs/slo.md says what each figure means.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			path := "/slo"
			if env != "" {
				path += "?" + url.Values{"environment": {env}}.Encode()
			}
			var rep api.SLOReport
			if err := c.do(cmd.Context(), "GET", path, nil, &rep); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), rep, func(w io.Writer) error { return printSLO(w, rep) })
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&env, "env", "", "one environment (default: every one)")
	cmd.AddCommand(newSLORulesCmd(g))
	return cmd
}

func printSLO(w io.Writer, rep api.SLOReport) error {
	if len(rep.SLOs) == 0 {
		_, err := fmt.Fprintln(w, "no service declares an slo: in belay.yaml (see docs/slo.md)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := []string{"SERVICE", "ENVIRONMENT", "OBJECTIVE", "WINDOW", "BUDGET LEFT"}
	for _, p := range rep.SLOs[0].Pairs {
		head = append(head, strings.ToUpper(p.Long+"/"+p.Short))
	}
	fmt.Fprintln(tw, strings.Join(append(head, "STATUS"), "\t"))
	var notes []string
	for _, s := range rep.SLOs {
		row := []string{s.Service, s.Environment, s.Objective, s.Window, share(s.BudgetLeft)}
		for _, p := range s.Pairs {
			cell := rate(p.LongBurn) + "/" + rate(p.ShortBurn)
			if p.Firing {
				cell += "*"
			}
			row = append(row, cell)
		}
		for len(row) < len(head) {
			row = append(row, "-")
		}
		fmt.Fprintln(tw, strings.Join(append(row, s.Status), "\t"))
		if s.Error != "" {
			notes = append(notes, fmt.Sprintf("%s in %s: %s", s.Service, s.Environment, s.Error))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	seen := map[string]bool{} // one legend per SLO window: the factors scale with it
	for _, s := range rep.SLOs {
		if seen[s.Window] || len(s.Pairs) == 0 {
			continue
		}
		seen[s.Window] = true
		var fs []string
		for _, x := range s.Pairs {
			fs = append(fs, fmt.Sprintf("%s/%s %s above %.3g", x.Long, x.Short, x.Severity, x.Factor))
		}
		fmt.Fprintf(w, "burn rates long/short window, * fires (for a %s window: %s)\n", s.Window, strings.Join(fs, ", "))
	}
	for _, n := range notes {
		fmt.Fprintln(w, "no data: "+n)
	}
	return nil
}

func share(f *float64) string {
	if f == nil {
		return "no data"
	}
	return fmt.Sprintf("%.1f%%", *f*100)
}

func rate(f *float64) string {
	if f == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *f)
}

func newSLORulesCmd(g *Globals) *cobra.Command {
	file, out := "belay.yaml", ""
	cmd := &cobra.Command{
		Use:   "rules [-f FILE] [--out RULES]",
		Short: "Write Prometheus recording and alerting rules for the SLOs in belay.yaml",
		Long: "rules writes Prometheus rules (to stdout, or --out RULES) for every service with an slo: in FILE:\n" +
			"recording rules for the error ratio and burn rate over each window, per service and environment,\n" +
			"from the agent's belay_requests_total and belay_request_errors_total, and a page and a ticket\n" +
			"alert per service from the SRE workbook's window pairs. Check them with promtool check rules and\n" +
			"load them with rule_files: in prometheus.yml (docs/slo.md).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := spec.Load(file)
			if err != nil {
				return err
			}
			var svcs []slo.Service
			for _, name := range p.ServiceNames() {
				if s := p.Service(name); s.SLO != nil {
					e := s.SLO.Effective()
					svcs = append(svcs, slo.Service{Name: name, Objective: slo.Objective{Objective: float64(e.Objective), Window: e.Window.D()}})
				}
			}
			if len(svcs) == 0 {
				return fmt.Errorf("%s: no service declares an slo: add e.g. slo: {objective: 99.9%%} to a service (docs/slo.md)", file)
			}
			b, err := slo.Rules(svcs, slo.Pairs)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(b)
				return err
			}
			if err := atomicfile.Write(out, b, 0o644); err != nil {
				return fmt.Errorf("--out %s: %w", out, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: rules for %d %s\n", out, len(svcs), plural(len(svcs), "service"))
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", file, "project file")
	cmd.Flags().StringVar(&out, "out", "", "write the rules to this file instead of stdout (-o is the output format)")
	return cmd
}
