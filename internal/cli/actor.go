package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// checkNoActor refuses --actor and BELAY_ACTOR, which named the actor
// before tokens did: the actor of every audited action is now the
// identity of the API token, so a name given any other way would be
// ignored, and an ignored name is worse than an error.
func checkNoActor(cmd *cobra.Command) error {
	if f := cmd.Flags().Lookup("actor"); f != nil && f.Changed || os.Getenv("BELAY_ACTOR") != "" {
		return usageError{fmt.Errorf("--actor and BELAY_ACTOR are gone: belay records your API token's name as the actor " +
			"(see `belay token whoami`); use a token of your own (BELAY_TOKEN), made by an admin with `belay token create --name you …`")}
	}
	return nil
}

// clientFlags are the flags every client verb shares.
type clientFlags struct {
	file   string
	reason string
}

func (f *clientFlags) add(cmd *cobra.Command, withReason bool) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "belay.yaml", "project file (its directory holds the default home, where the server's ready-file and token are)")
	cmd.Flags().String("actor", "", "")
	_ = cmd.Flags().MarkHidden("actor")
	if withReason {
		cmd.Flags().StringVar(&f.reason, "reason", "", "why: kept in the audit trail")
	}
}
