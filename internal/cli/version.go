package cli

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newVersionCmd) }

// VersionInfo is what `belay version` reports.
type VersionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// ReadVersion reads the module version and VCS stamp from the binary.
func ReadVersion() VersionInfo {
	v := VersionInfo{Version: "(devel)"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Go = bi.GoVersion
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func newVersionCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print belay's version and the commit it was built from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := ReadVersion()
			return g.emit(cmd.OutOrStdout(), v, func(w io.Writer) error {
				rev := v.Revision
				if rev == "" {
					rev = "unknown revision"
				}
				if v.Modified {
					rev += " (modified)"
				}
				_, err := fmt.Fprintf(w, "belay %s %s %s %s\n", v.Version, rev, v.Time, v.Go)
				return err
			})
		},
	}
}
