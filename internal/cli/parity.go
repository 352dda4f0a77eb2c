package cli

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/belay-dev/belay/internal/infra/parity"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newParityCmd) }

func newParityCmd(g *Globals) *cobra.Command {
	file, graphs := "belay.yaml", false
	cmd := &cobra.Command{
		Use:   "parity A B [-f FILE] [--graphs]",
		Short: "Compare two environments' shape: same resources and shape attributes, sizes left out",
		Long: "parity renders environments A and B of FILE as graphs of the resources their services and\n" +
			"service_stack imply (role, kind, engine, version and other shape attributes; dependencies, secret\n" +
			"flow and observability hooks), drops sizes and addresses and the environment's name, and reports\n" +
			"every resource in one environment only and every shape attribute that differs, with both values.\n" +
			"parity.exceptions in FILE excuse a difference with a reason. It exits 1 when the shapes differ\n" +
			"or an exception excuses nothing, so it can gate a pipeline (docs/parity.md).",
		Example: "  belay parity staging production\n  belay parity staging production -o json --graphs",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := spec.Load(file)
			if err != nil {
				return err
			}
			rep, err := parity.Compare(p, args[0], args[1])
			var bad spec.Errors
			if errors.As(err, &bad) {
				return &exitError{code: exitInvalid, err: bad}
			}
			if err != nil {
				return err
			}
			res := rep
			if graphs {
				for _, env := range args {
					gr, err := parity.Render(p, env)
					if err != nil {
						return err
					}
					res.Graphs = append(res.Graphs, gr)
				}
			}
			if err := g.emit(cmd.OutOrStdout(), res, func(w io.Writer) error {
				rep.PrintText(w)
				for _, gr := range res.Graphs {
					printGraph(w, gr)
				}
				return nil
			}); err != nil {
				return err
			}
			if len(rep.Differences) > 0 {
				return &exitError{code: 1, reported: true, err: fmt.Errorf("%s and %s differ in shape", rep.A, rep.B)}
			}
			if !rep.Equal {
				return &exitError{code: 1, reported: true, err: fmt.Errorf("parity.exceptions in %s excuse nothing between %s and %s: remove them", file, rep.A, rep.B)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", file, "the belay.yaml to read")
	cmd.Flags().BoolVar(&graphs, "graphs", false, "also print both environments' graphs")
	return cmd
}

func printGraph(w io.Writer, gr *parity.Graph) {
	fmt.Fprintf(w, "\n%s:\n", gr.Environment)
	for _, n := range gr.Nodes {
		fmt.Fprintf(w, "  %s [%s %s]", n.ID, n.Role, n.Kind)
		for _, k := range sortedKeysOf(n.Attrs) {
			fmt.Fprintf(w, " %s=%q", k, n.Attrs[k])
		}
		if len(n.Dropped) > 0 {
			fmt.Fprint(w, " (left out:")
			for _, k := range sortedKeysOf(n.Dropped) {
				fmt.Fprintf(w, " %s=%s", k, n.Dropped[k])
			}
			fmt.Fprint(w, ")")
		}
		fmt.Fprintln(w)
	}
	for _, e := range gr.Edges {
		fmt.Fprintf(w, "  %s\n", e)
	}
}

func sortedKeysOf(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
