package cli

import (
	"os"
	"os/user"

	"github.com/spf13/cobra"
)

// actor is who runs a command: --actor, BELAY_ACTOR, or the OS user.
func actor(cmd *cobra.Command) string {
	if f := cmd.Flags().Lookup("actor"); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	if a := os.Getenv("BELAY_ACTOR"); a != "" {
		return a
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// clientFlags are the flags every client verb shares.
type clientFlags struct {
	file   string
	reason string
}

func (f *clientFlags) add(cmd *cobra.Command, withReason bool) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "belay.yaml", "project file (its directory holds the default home, where the server's ready-file is)")
	cmd.Flags().String("actor", "", "who is acting (env BELAY_ACTOR; default the OS user)")
	if withReason {
		cmd.Flags().StringVar(&f.reason, "reason", "", "why: kept in the audit trail")
	}
}
