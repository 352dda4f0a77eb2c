package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/belay-dev/belay/internal/event"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newEventsCmd) }

func newEventsCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var follow bool
	cmd := &cobra.Command{
		Use:   "events [--follow]",
		Short: "Print deployment events (JSON lines with -o json); --follow streams them as they happen",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			print := func(raw []byte) error { return printEvent(cmd.OutOrStdout(), g.Output == "json", raw) }
			if !follow {
				var evs []json.RawMessage
				if err := c.do(cmd.Context(), "GET", "/events", nil, &evs); err != nil {
					return err
				}
				for _, e := range evs {
					if err := print(e); err != nil {
						return err
					}
				}
				return nil
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return c.follow(ctx, print) // until interrupted: a clean exit
		},
	}
	f.add(cmd, false)
	cmd.Flags().BoolVar(&follow, "follow", false, "keep streaming new events (server-sent events) until interrupted")
	return cmd
}

func printEvent(w io.Writer, asJSON bool, raw []byte) error {
	if asJSON {
		_, err := fmt.Fprintf(w, "%s\n", raw)
		return err
	}
	var e event.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return err
	}
	line := fmt.Sprintf("%s  %-24s %s %s %s", e.Time.Local().Format("15:04:05"), e.Event, e.Service, e.Version, e.Environment)
	if e.Flag != "" {
		line += " flag=" + e.Flag
	}
	if e.ErrorRate != nil {
		line += fmt.Sprintf(" error_rate=%.3g%%", *e.ErrorRate)
	}
	if e.P95LatencyMS != nil {
		line += fmt.Sprintf(" p95=%.0fms", *e.P95LatencyMS)
	}
	if e.Reason != "" {
		line += " — " + e.Reason
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// follow reads the server-sent event stream until ctx ends.
func (c *apiClient) follow(ctx context.Context, each func([]byte) error) error {
	resp, err := c.send(ctx, c.untimed(), "GET", "/events?follow=1", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if err := each([]byte(data)); err != nil {
				return err
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}
