package cli

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newKeysCmd) }

func newKeysCmd(g *Globals) *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Manage the ed25519 keys that sign artifacts",
	}
	var name, file string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an ed25519 key pair for signing artifacts",
		Long: "create writes NAME.key (private, PKCS#8 PEM, mode 0600) and NAME.pub (public, PEM) under\n" +
			"$BELAY_HOME/keys. `belay build` signs with keys/belay.key unless --key says otherwise; list the\n" +
			"public key under artifacts.trusted_keys in belay.yaml so that verification trusts it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kf, err := artifact.CreateKey(filepath.Join(g.HomeDir(file), "keys"), name)
			if err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), kf, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "key %s\nprivate %s\npublic  %s\n", kf.ID, kf.Private, kf.Public)
				return err
			})
		},
	}
	create.Flags().StringVar(&name, "name", "belay", "key name: files NAME.key and NAME.pub")
	create.Flags().StringVarP(&file, "file", "f", "belay.yaml", "the project's belay.yaml (locates the default home directory)")
	keys.AddCommand(create)
	return keys
}
