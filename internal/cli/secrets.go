package cli

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/secret"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newSecretsCmd) }

func newSecretsCmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets set | get | list | rm",
		Short: "Keep environment secrets: encrypted with age, committed, given to instances and hooks",
		Long: "Each environment's secrets live in secrets/<environment>.age next to belay.yaml, encrypted with age\n" +
			"for that environment's key, which only the server holds (<home>/secrets/<environment>.key, mode 0600).\n" +
			"Commit the .age files; back up the keys. A service lists the names it needs under run.secrets: its\n" +
			"instances and hooks get them as environment variables at deploy time, and belay redacts their\n" +
			"values from what it shows. Setting, removing and reading a value need the admin role in the\n" +
			"environment and are audited (a value only by an HMAC fingerprint); listing names needs any token.",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newSecretsSetCmd(g), newSecretsGetCmd(g), newSecretsListCmd(g), newSecretsRmCmd(g))
	return cmd
}

// secretPath is the API path of a secret, or of env's secrets.
func secretPath(env string, name ...string) string {
	p := "/secrets/" + url.PathEscape(env)
	for _, n := range name {
		p += "/" + url.PathEscape(n)
	}
	return p
}

func newSecretsSetCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env, from string
	cmd := &cobra.Command{
		Use:   "set NAME --env E [--from-file F]",
		Short: "Set a secret from standard input (or a file), never from the command line",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := secret.CheckName(args[0]); err != nil {
				return usageError{err}
			}
			value, err := readSecret(cmd.InOrStdin(), from)
			if err != nil {
				return err
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var ch api.SecretChange
			if err := c.do(cmd.Context(), "POST", secretPath(env, args[0]), api.SecretRequest{Value: value, Reason: f.reason}, &ch); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), ch, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "secret %s %s in %s (%s); commit %s\n", ch.Name, pastTense(ch.Action), ch.Environment, ch.Fingerprint, ch.File)
				return err
			})
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&env, "env", "", "environment")
	cmd.Flags().StringVar(&from, "from-file", "", "read the value from this file (whole, e.g. a certificate) instead of standard input")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

// readSecret reads a value from file, else from in, which must not be a
// terminal (the value would be echoed): one trailing newline is dropped.
func readSecret(in io.Reader, file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		return string(b), err
	}
	if f, ok := in.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return "", usageError{fmt.Errorf("secrets set reads the value from standard input, which is a terminal here and would show it: " +
				"pipe it (e.g. `read -rs V && printf %%s \"$V\" | belay secrets set NAME --env E`) or use --from-file")}
		}
	}
	b, err := io.ReadAll(io.LimitReader(in, secret.MaxValueLen+2))
	if err != nil {
		return "", err
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return string(b), nil
}

func pastTense(action string) string {
	switch action {
	case "set":
		return "set"
	case "replace":
		return "replaced"
	}
	return action + "d"
}

func newSecretsGetCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env string
	cmd := &cobra.Command{
		Use:   "get NAME --env E",
		Short: "Print a secret's value (admin; audited)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var v api.SecretValue
			if err := c.do(cmd.Context(), "GET", secretPath(env, args[0]), nil, &v); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), v, func(w io.Writer) error {
				_, err := fmt.Fprintln(w, v.Value)
				return err
			})
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&env, "env", "", "environment")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

func newSecretsListCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env string
	cmd := &cobra.Command{
		Use:   "list --env E",
		Short: "List an environment's secrets by name (never their values)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var l api.SecretList
			if err := c.do(cmd.Context(), "GET", secretPath(env), nil, &l); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), l, func(w io.Writer) error {
				if len(l.Names) == 0 {
					_, err := fmt.Fprintf(w, "%s has no secrets (%s does not exist yet)\n", l.Environment, l.File)
					return err
				}
				_, err := fmt.Fprintf(w, "%s\n# %d in %s, encrypted for %s\n", strings.Join(l.Names, "\n"), len(l.Names), l.File, l.Recipient)
				return err
			})
		},
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&env, "env", "", "environment")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

func newSecretsRmCmd(g *Globals) *cobra.Command {
	var f clientFlags
	var env string
	cmd := &cobra.Command{
		Use:   "rm NAME --env E --reason WHY",
		Short: "Remove a secret (admin; audited)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(f.reason) == "" {
				return usageError{fmt.Errorf("secrets rm needs --reason")}
			}
			c, err := g.client(f.file)
			if err != nil {
				return err
			}
			var ch api.SecretChange
			if err := c.do(cmd.Context(), "POST", secretPath(env, args[0])+"/remove", api.SecretRequest{Reason: f.reason}, &ch); err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), ch, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "secret %s removed from %s; commit %s\n", ch.Name, ch.Environment, ch.File)
				return err
			})
		},
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&env, "env", "", "environment")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}
