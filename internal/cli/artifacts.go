package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newArtifactsCmd) }

func newArtifactsCmd(g *Globals) *cobra.Command {
	f := &artifactFlags{file: "belay.yaml"}
	cmd := &cobra.Command{
		Use:   "artifacts",
		Short: "List, show and verify the artifacts in the store",
	}
	pf := cmd.PersistentFlags()
	pf.StringVarP(&f.file, "file", "f", f.file, "the project's belay.yaml (artifacts.store and artifacts.trusted_keys)")
	pf.StringVar(&f.store, "store", "", "artifact store: oci://host:port/repo or a directory (default artifacts.store, else $BELAY_HOME/artifacts)")
	cmd.AddCommand(artifactsList(g, f), artifactsShow(g, f), artifactsVerify(g, f), artifactsCopy(g, f))
	return cmd
}

func artifactsList(g *Globals, f *artifactFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List artifacts: version, digest, commit, build time, signer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := f.loadProject(false)
			if err != nil {
				return err
			}
			s, err := f.openStore(g, p)
			if err != nil {
				return err
			}
			list, err := artifact.List(cmd.Context(), s)
			if err != nil {
				return err
			}
			if list == nil {
				list = []artifact.Info{}
			}
			return g.emit(cmd.OutOrStdout(), list, func(w io.Writer) error {
				if len(list) == 0 {
					_, err := fmt.Fprintf(w, "no artifacts in %v: build one with `belay build <service>`\n", s)
					return err
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "VERSION\tDIGEST\tCOMMIT\tBUILT\tSIGNER")
				for _, a := range list {
					signer := a.Signer
					if signer == "" {
						signer = "unsigned"
					}
					if a.Dirty {
						signer += " (dirty)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Version, shortDigest(a.Digest), short(a.Commit, 12), a.Created.Format(time.RFC3339), signer)
				}
				return tw.Flush()
			})
		},
	}
}

// ArtifactShow is what `belay artifacts show` reports.
type ArtifactShow struct {
	*artifact.Report
	Verified  bool   `json:"verified"`
	Problem   string `json:"problem,omitempty"`
	TrustFrom string `json:"trusted_keys_from"`
}

func artifactsShow(g *Globals, f *artifactFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show <version>",
		Short: "Show an artifact's metadata, image config, attachments and signature status",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, from, err := verifyArtifact(cmd, g, f, args[0])
			out := ArtifactShow{Report: r, Verified: err == nil, TrustFrom: from}
			if r == nil {
				return err // nothing to show
			}
			if err != nil {
				out.Problem = err.Error()
			}
			return g.emit(cmd.OutOrStdout(), out, func(w io.Writer) error { return showText(w, out) })
		},
	}
	cmd.Flags().StringArrayVar(&f.keys, "key", nil, "trusted public key file (repeatable; added to artifacts.trusted_keys)")
	return cmd
}

func showText(w io.Writer, s ArtifactShow) error {
	m := s.Meta
	fmt.Fprintf(w, "version     %s\nservice     %s\ndigest      %s\ncommit      %s\ncreated     %s\n", m.Version, m.Service, s.Digest, m.Commit, m.Created.Format(time.RFC3339))
	if m.Source != "" {
		fmt.Fprintf(w, "source      %s\n", m.Source)
	}
	if m.Dirty {
		fmt.Fprintln(w, "dirty       yes: built from uncommitted changes")
	}
	if len(s.Refs) > 0 {
		fmt.Fprintf(w, "refs        %s\n", strings.Join(s.Refs, " "))
	}
	fmt.Fprintf(w, "entrypoint  %s\n", strings.Join(append(append([]string{}, s.Config.Entrypoint...), s.Config.Cmd...), " "))
	for _, a := range s.Attachments {
		fmt.Fprintf(w, "attachment  %s %s\n", a.ArtifactType, a.Digest)
	}
	if s.Verified {
		_, err := fmt.Fprintf(w, "signature   verified, signed by %s (%d blobs checked)\n", s.Signer, s.Blobs)
		return err
	}
	_, err := fmt.Fprintf(w, "signature   NOT VERIFIED: %s\n", s.Problem)
	return err
}

func artifactsVerify(g *Globals, f *artifactFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify <version>",
		Short: "Recompute every digest of an artifact and check its signature; exit 1 if anything changed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, from, err := verifyArtifact(cmd, g, f, args[0])
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("verify %s: %w", args[0], err)}
			}
			out := ArtifactShow{Report: r, Verified: true, TrustFrom: from}
			return g.emit(cmd.OutOrStdout(), out, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "%s verified: %s, %d blobs checked, signed by %s\n", r.Version, r.Digest, r.Blobs, r.Signer)
				return err
			})
		},
	}
	cmd.Flags().StringArrayVar(&f.keys, "key", nil, "trusted public key file (repeatable; added to artifacts.trusted_keys)")
	return cmd
}

// verifyArtifact verifies ref; the report is returned even when only the
// signature check failed, so that show can still show the metadata.
func verifyArtifact(cmd *cobra.Command, g *Globals, f *artifactFlags, ref string) (*artifact.Report, string, error) {
	p, err := f.loadProject(false)
	if err != nil {
		return nil, "", err
	}
	s, err := f.openStore(g, p)
	if err != nil {
		return nil, "", err
	}
	keys, from, err := f.trustedKeys(g, p)
	if err != nil {
		return nil, "", err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "verifying %s in %v (trusting %s)\n", ref, s, from)
	r, err := artifact.Verify(cmd.Context(), s, ref, keys)
	return r, from, err
}

func shortDigest(d string) string { return short(d, len("sha256:")+12) }

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
