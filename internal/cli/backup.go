package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/infra"
	"github.com/spf13/cobra"
)

func init() {
	commands = append(commands, newBackupCmd, newBackupsCmd, newRestoreCmd)
	jsonOutputs["belay backup"] = jsonOutput{infra.Backups{}, "an object: the dumps taken (manifests) and those the retention pruned"}
	jsonOutputs["belay backups"] = jsonOutput{infra.Backups{}, "an object: the environment's dumps, newest first per service"}
	jsonOutputs["belay restore"] = jsonOutput{infra.Restored{}, "an object: the backup restored and the database it is in"}
}

func newBackupCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env, service string
	cmd := &cobra.Command{
		Use:   "backup --env E [--service S]",
		Short: "Take a backup of an environment's databases now (deployer role; audited)",
		Long: "belay backup dumps the database of each service (or of --service) in an environment with pg_dump -Fc,\n" +
			"into the backups component's dir, written atomically beside a manifest (database, time, size, sha256),\n" +
			"then prunes older dumps by the applied policy's retention. The server does the same on the policy's\n" +
			"schedule. Each dump is an infra.backup audit entry and a backup_taken event, both with --reason.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if env == "" {
				return usageError{errors.New("backup: --env is required")}
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var out infra.Backups
			if err := c.do(cmd.Context(), "POST", "/infra/envs/"+url.PathEscape(env)+"/backups", api.BackupRequest{Service: service, Reason: f.reason}, &out); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), out, func(w io.Writer) error {
				for _, m := range out.Backups {
					fmt.Fprintf(w, "backup %s: %s, %d bytes, sha256 %s\n", m.ID, m.Database, m.Size, short(m.SHA256, 12))
				}
				for _, m := range out.Pruned {
					fmt.Fprintf(w, "pruned %s\n", m.ID)
				}
				return nil
			})
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.Flags().StringVar(&service, "service", "", "only this service's database")
	return cmd
}

func newBackupsCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env, service string
	cmd := &cobra.Command{
		Use:   "backups --env E [--service S]",
		Short: "List an environment's database backups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if env == "" {
				return usageError{errors.New("backups: --env is required")}
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			q := ""
			if service != "" {
				q = "?service=" + url.QueryEscape(service)
			}
			var out infra.Backups
			if err := c.do(cmd.Context(), "GET", "/infra/envs/"+url.PathEscape(env)+"/backups"+q, nil, &out); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), out, func(w io.Writer) error {
				if len(out.Backups) == 0 {
					_, err := fmt.Fprintf(w, "%s: no backups in %s\n", env, out.Dir)
					return err
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSERVICE\tDATABASE\tTIME\tBYTES\tSHA256")
				for _, m := range out.Backups {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", m.ID, m.Service, m.Database, m.Time.Format(time.RFC3339), m.Size, short(m.SHA256, 12))
				}
				return tw.Flush()
			})
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.Flags().StringVar(&service, "service", "", "only this service's backups")
	return cmd
}

func newRestoreCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var req api.RestoreRequest
	var env string
	cmd := &cobra.Command{
		Use:   "restore --env E --service S [--backup ID] [--into NAME | --replace --reason R]",
		Short: "Restore a database backup into a new database (deployer role; audited)",
		Long: "belay restore checks a dump's sha256 against its manifest (a changed or truncated dump is refused,\n" +
			"naming its path) and restores it with pg_restore into a new database, by default <db>_restore_<time>;\n" +
			"it never overwrites an existing database. --replace (admin role, with --reason) then swaps the\n" +
			"restored database in under the live one's name and keeps the live one as <db>_replaced_<time>.\n" +
			"The newest backup unless --backup (belay backups lists them). Audited as infra.restore, and a\n" +
			"backup_restored event.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if env == "" || req.Service == "" {
				return usageError{errors.New("restore: --env and --service are required")}
			}
			if req.Replace && f.reason == "" {
				return usageError{errors.New("restore: --replace needs --reason, kept in the audit log")}
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			req.Reason = f.reason
			var out infra.Restored
			if err := c.do(cmd.Context(), "POST", "/infra/envs/"+url.PathEscape(env)+"/restore", req, &out); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), out, func(w io.Writer) error {
				if out.Replaced != "" {
					_, err := fmt.Fprintf(w, "backup %s restored in place of %s; the former database is kept as %s\n", out.Backup.ID, out.Database, out.Replaced)
					return err
				}
				_, err := fmt.Fprintf(w, "backup %s restored into the new database %s (sha256 %s verified)\n", out.Backup.ID, out.Database, short(out.Backup.SHA256, 12))
				return err
			})
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.Flags().StringVar(&req.Service, "service", "", "the service whose database to restore")
	cmd.Flags().StringVar(&req.Backup, "backup", "", "backup ID (default the newest)")
	cmd.Flags().StringVar(&req.Into, "into", "", "name of the new database: lower-case letters, digits, _ (default <db>_restore_<time>)")
	cmd.Flags().BoolVar(&req.Replace, "replace", false, "put the restored database in place of the live one, keeping the live one renamed (admin role; needs --reason)")
	return cmd
}
