package cli

import (
	"github.com/belay-dev/belay/internal/spec"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newSchemaCmd) }

func newSchemaCmd(_ *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of belay.yaml, for editors",
		Long: "schema prints the JSON Schema (draft 2020-12) of belay.yaml and release plan files. Point your\n" +
			"editor's YAML language server at it, e.g. with a first line\n" +
			"  # yaml-language-server: $schema=./belay.schema.json\n" +
			"after `belay schema > belay.schema.json`. The output is JSON whatever -o says.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(spec.SchemaJSON())
			return err
		},
	}
}
