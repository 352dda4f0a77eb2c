package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/belay-dev/belay/internal/api"
)

func init() { commands = append(commands, newAuditCmd) }

func newAuditCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit list | checkpoint | verify | export",
		Short: "Read and verify the tamper-evident audit log",
		Long: "Every approval, override, rollback, token creation and revocation, and refused request is appended\n" +
			"to the audit log in the transaction of the change it records. The log is a Merkle tree whose\n" +
			"checkpoints the server signs with its own key (<home>/audit.key; audit.pub is the public half).\n" +
			"Save a checkpoint somewhere the database's owners cannot write; verifying against it later proves\n" +
			"the log only grew since. Any token may read the log.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newAuditListCmd(g), newAuditCheckpointCmd(g), newAuditVerifyCmd(g), newAuditExportCmd(g))
	return cmd
}

func newAuditListCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var after int64
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--after ID] [--limit N]",
		Short: "List audit entries, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var es []api.AuditEntry
			if err := c.do(cmd.Context(), "GET", fmt.Sprintf("/audit?after=%d&limit=%d", after, limit), nil, &es); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), es, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tAT\tACTOR\tACTION\tSUBJECT\tREASON")
				for _, e := range es {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.Format(time.RFC3339), e.Actor, e.Action, e.Subject, e.Reason)
				}
				return tw.Flush()
			})
		},
	}
	f.add(cmd, false)
	cmd.Flags().Int64Var(&after, "after", 0, "list entries after this ID")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many entries (up to 10000)")
	return cmd
}

func newAuditCheckpointCmd(g *Globals) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "checkpoint [> FILE]",
		Short: "Have the server sign a checkpoint of the log as it is now; prints the signed note",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var cp api.AuditCheckpoint
			if err := c.do(cmd.Context(), "GET", "/audit/checkpoint", nil, &cp); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), cp, func(w io.Writer) error {
				_, err := io.WriteString(w, cp.Note)
				return err
			})
		},
	}
	f.add(cmd, false)
	return cmd
}

func newAuditVerifyCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var checkpoint string
	cmd := &cobra.Command{
		Use:   "verify [--checkpoint FILE]",
		Short: "Verify the whole audit log; exit 1 naming each edited, deleted, reordered or truncated entry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var req api.AuditVerifyRequest
			if checkpoint != "" {
				note, err := readCheckpoint(checkpoint)
				if err != nil {
					return err
				}
				req.Checkpoint = note
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var v api.AuditVerify
			if err := c.do(cmd.Context(), "POST", "/audit/verify", req, &v); err != nil {
				return err
			}
			err = g.emit(cmd.OutOrStdout(), v, func(w io.Writer) error {
				if v.OK {
					_, err := fmt.Fprintf(w, "audit log verified: %d entries, root %s\n", v.Size, v.Root)
					return err
				}
				return nil
			})
			if err != nil || v.OK {
				return err
			}
			lines := make([]string, 0, len(v.Problems))
			for _, p := range v.Problems {
				lines = append(lines, fmt.Sprintf("  entry %d (%s): %s", p.ID, p.Kind, p.Message))
			}
			return &exitError{code: 1, reported: g.Output == "json", err: fmt.Errorf("the audit log fails verification (%d entries now):\n%s",
				v.Size, strings.Join(lines, "\n"))}
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&checkpoint, "checkpoint", "", "a checkpoint saved earlier (belay audit checkpoint > FILE): the log must have only grown since")
	return cmd
}

// readCheckpoint reads a saved checkpoint: the note belay audit checkpoint
// printed, or its -o json answer.
func readCheckpoint(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--checkpoint: %w", err)
	}
	if strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
		var cp api.AuditCheckpoint
		if err := json.Unmarshal(b, &cp); err != nil || cp.Note == "" {
			return "", fmt.Errorf("--checkpoint %s: neither a checkpoint note nor belay audit checkpoint -o json output", path)
		}
		return cp.Note, nil
	}
	return string(b), nil
}

func newAuditExportCmd(g *Globals) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "export [> FILE]",
		Short: "Write the whole log as JSON lines, each entry with its leaf hash, then the latest signed checkpoint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			return c.stream(cmd.Context(), "/audit/export", cmd.OutOrStdout())
		},
	}
	f.add(cmd, false)
	return cmd
}

// stream copies a GET's answer to w as it comes (an export may be large).
func (c *apiClient) stream(ctx context.Context, path string, w io.Writer) error {
	resp, err := c.send(ctx, c.untimed(), "GET", path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}
