package cli

import (
	"fmt"
	"io"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/artifact/registry"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/spf13/cobra"
)

// ArtifactCopied is `belay artifacts copy`'s answer.
type ArtifactCopied struct {
	*artifact.Copied
	// Image is what a pod runs: REGISTRY/REPO@sha256:…
	Image string `json:"image"`
}

func artifactsCopy(g *Globals, f *artifactFlags) *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "copy <version> [REGISTRY/REPO]",
		Short: "Copy a verified artifact, with its signatures and SBOM, to a registry by digest",
		Long: "copy verifies an artifact in the store (digests and a trusted signature), then copies it with its\n" +
			"attachments to REGISTRY/REPO, or with --env to the environment's kubernetes.registry/SERVICE. The\n" +
			"digest does not change, so `belay artifacts verify --store oci://…` passes there with the same keys;\n" +
			"the version tag is written last, and copying again writes nothing. It prints the image to run,\n" +
			"REPO@sha256:….",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 2) == (env != "") {
				return usageError{fmt.Errorf("give the destination either as REGISTRY/REPO or as --env ENV (an environment with target: kubernetes), not both and not neither")}
			}
			r, _, err := verifyArtifact(cmd, g, f, args[0])
			if err != nil {
				return &exitError{code: 1, err: fmt.Errorf("copy %s: %w", args[0], err)}
			}
			repo := ""
			if len(args) == 2 {
				repo = args[1]
			} else if repo, err = envRepository(f, env, r.Meta.Service); err != nil {
				return err
			}
			p, err := f.loadProject(false)
			if err != nil {
				return err
			}
			s, err := f.openStore(g, p)
			if err != nil {
				return err
			}
			image, c, err := registry.CopyTo(cmd.Context(), s, r.Digest, repo)
			if err != nil {
				return fmt.Errorf("copy %s: %w", args[0], err)
			}
			if c.Version == "" {
				c.Version = r.Version
			}
			out := ArtifactCopied{Copied: c, Image: image}
			return g.emit(cmd.OutOrStdout(), out, func(w io.Writer) error {
				what := "copied"
				if c.Existing {
					what = "already there"
				}
				_, err := fmt.Fprintf(w, "%s %s with %d attachments: %s\n", r.Version, what, c.Referrers, image)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "copy to this kubernetes environment's registry, as REGISTRY/SERVICE")
	cmd.Flags().StringArrayVar(&f.keys, "key", nil, "trusted public key file (repeatable; added to artifacts.trusted_keys)")
	return cmd
}

// envRepository is where an environment's pods pull service's image from.
func envRepository(f *artifactFlags, env, service string) (string, error) {
	p, err := f.loadProject(true)
	if err != nil {
		return "", err
	}
	e := p.Environment(env)
	switch {
	case e == nil:
		return "", usageError{fmt.Errorf("--env %s: no such environment in %s; environments: %v", env, f.file, p.EnvironmentNames())}
	case e.Target != spec.TargetKubernetes:
		return "", usageError{fmt.Errorf("--env %s: the environment has target: %s, which has no registry; give REGISTRY/REPO instead", env, e.Target)}
	}
	return e.Kubernetes.Image(service), nil
}
