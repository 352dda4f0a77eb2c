package cli

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/belay-dev/belay/internal/api"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newQueueCmd) }

func newQueueCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var all bool
	cmd := &cobra.Command{
		Use:   "queue [--all] | queue cancel <entry> --reason WHY",
		Short: "List releases waiting for a busy environment, or cancel one",
		Long: "A release promoted in one environment enters the next as soon as no other rollout of the service\n" +
			"runs there; until then it waits in that environment's queue, oldest first. `belay release\n" +
			"--supersede` replaces older waiting releases of the service; `belay queue cancel N` ends one.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			q := ""
			if all {
				q = "?all=1"
			}
			var qs []api.QueueView
			if err := c.do(cmd.Context(), "GET", "/queue"+q, nil, &qs); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), qs, func(w io.Writer) error { return printQueue(w, qs) })
		},
	}
	f.add(cmd, false)
	cmd.Flags().BoolVar(&all, "all", false, "include entries that started or ended")
	cmd.AddCommand(newQueueCancelCmd(g))
	return cmd
}

func newQueueCancelCmd(g *Globals) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "cancel <entry> --reason WHY",
		Short: "Cancel a waiting release's entry in an environment's queue; audited",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("queue entry %q is not a number: see `belay queue`", args[0])
			}
			if f.reason == "" {
				return fmt.Errorf("queue cancel needs --reason")
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var q api.QueueView
			if err := c.do(cmd.Context(), "POST", fmt.Sprintf("/queue/%d/cancel", id), api.CommandRequest{Reason: f.reason}, &q); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), q, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "queue entry %d of release %d in %s: %s\n", id, q.Release, q.Environment, q.State)
				return err
			})
		},
	}
	f.add(cmd, true)
	return cmd
}

func printQueue(w io.Writer, qs []api.QueueView) error {
	if len(qs) == 0 {
		_, err := fmt.Fprintln(w, "no release is waiting")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTRY\tRELEASE\tSERVICE\tVERSION\tENVIRONMENT\tSTATE\tWHY")
	for _, q := range qs {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", q.ID, q.Release, q.Service, q.Version, q.Environment, q.State, dash(q.Reason))
	}
	return tw.Flush()
}
