package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newTokenCmd) }

func newTokenCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token create | list | revoke | whoami",
		Short: "Manage API tokens: who may do what, in which environments",
		Long: "Every API call carries a token (Authorization: Bearer), and everything done with it is audited\n" +
			"under the token's name. Roles, each allowing what the ones before it do, scoped to environments:\n" +
			"  viewer    status, history, rollouts, explain, events\n" +
			"  deployer  release (in the environment it starts), pause, resume, abort, rollback, queue cancel,\n" +
			"            flags set, disable, enable and reset\n" +
			"  approver  approve, promote\n" +
			"  admin     tokens (with no environment scope)\n" +
			"The first server start makes an admin token and writes it to <home>/token (mode 0600), which the\n" +
			"local CLI reads; elsewhere set BELAY_TOKEN.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newTokenCreateCmd(g), newTokenListCmd(g), newTokenRevokeCmd(g), newTokenWhoamiCmd(g))
	return cmd
}

func newTokenCreateCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var req api.TokenRequest
	cmd := &cobra.Command{
		Use:   "create --name NAME --role ROLE [--env E]... [--expires 90d]",
		Short: "Make a token; its secret is shown this once and kept only as a hash",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			req.Reason = f.reason
			var t api.TokenCreated
			if err := c.do(cmd.Context(), "POST", "/tokens", req, &t); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), t, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "token %s (%s in %s, %s)\n%s\nit is shown only now: keep it where its user reads it, e.g. BELAY_TOKEN\n",
					t.Name, t.Role, scope(t.Environments), expiry(t.Expires), t.Token)
				return err
			})
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&req.Name, "name", "", "who uses it: the actor of everything done with it (e.g. ci, alice)")
	cmd.Flags().StringVar(&req.Role, "role", "", "viewer, deployer, approver or admin")
	cmd.Flags().StringSliceVar(&req.Environments, "env", nil, "environments the role applies to (repeat; default every one)")
	cmd.Flags().StringVar(&req.ExpiresIn, "expires", "", "lifetime, e.g. 90d or 12h (default never)")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newTokenListCmd(g *Globals) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var ts []api.TokenView
			if err := c.do(cmd.Context(), "GET", "/tokens", nil, &ts); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), ts, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tROLE\tENVIRONMENTS\tCREATED BY\tEXPIRES\tREVOKED")
				for _, t := range ts {
					revoked := "-"
					if !t.Revoked.IsZero() {
						revoked = t.Revoked.Format(time.RFC3339) + " by " + t.RevokedBy
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, scope(t.Environments), t.CreatedBy, expiry(t.Expires), revoked)
				}
				return tw.Flush()
			})
		},
	}
	f.add(cmd, false)
	return cmd
}

func newTokenRevokeCmd(g *Globals) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "revoke <name|id> --reason WHY",
		Short: "Revoke a token at once; audited",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(f.reason) == "" {
				return usageError{fmt.Errorf("token revoke needs --reason")}
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var t api.TokenView
			if err := c.do(cmd.Context(), "POST", "/tokens/"+args[0]+"/revoke", api.CommandRequest{Reason: f.reason}, &t); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), t, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "token %s (id %d) revoked\n", t.Name, t.ID)
				return err
			})
		},
	}
	f.add(cmd, true)
	return cmd
}

func newTokenWhoamiCmd(g *Globals) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Say whose token this CLI sends, its role and environments",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var w api.Whoami
			if err := c.do(cmd.Context(), "GET", "/whoami", nil, &w); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), w, func(out io.Writer) error {
				_, err := fmt.Fprintf(out, "%s: %s in %s\n", w.Name, w.Role, scope(w.Environments))
				return err
			})
		},
	}
	f.add(cmd, false)
	return cmd
}

func scope(envs []string) string {
	if len(envs) == 0 {
		return "every environment"
	}
	return strings.Join(envs, ", ")
}

func expiry(t time.Time) string {
	if t.IsZero() {
		return "never expires"
	}
	return "expires " + t.Format(time.RFC3339)
}
