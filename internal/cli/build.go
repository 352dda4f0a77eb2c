package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newBuildCmd) }

func newBuildCmd(g *Globals) *cobra.Command {
	f := &artifactFlags{file: "belay.yaml"}
	var commit, key string
	var allowDirty bool
	cmd := &cobra.Command{
		Use:   "build <service>",
		Short: "Build a service at a commit into a signed, immutable OCI artifact and store it",
		Long: "build runs the service's build command from belay.yaml in a clean checkout of the commit\n" +
			"(a temporary git worktree, SOURCE_DATE_EPOCH set to the commit time), packs the declared outputs\n" +
			"as a runnable OCI image under /app, attaches an SPDX SBOM and a signed SLSA provenance, and\n" +
			"publishes it as <service>-<YYYY.MM.DD>-<shortsha>. The same commit always gives the same digest;\n" +
			"a version is never re-pointed to other bytes. The provenance records the git refs the build came\n" +
			"from (the branch --commit names or HEAD stands on, and the commit's tags); building the same commit\n" +
			"from a new ref attaches another signed provenance with it.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.loadProject(true)
			if err != nil {
				return err
			}
			// Interrupted, the build command is stopped and its worktree removed.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			pub, err := g.build(ctx, f, p, args[0], commit, key, allowDirty, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), pub, func(w io.Writer) error {
				state := "published"
				if pub.Existing {
					state = "already published"
				}
				if pub.Dirty {
					state += " (dirty: built from uncommitted changes)"
				}
				if len(pub.RefsAdded) > 0 {
					state += "; provenance added for " + strings.Join(pub.RefsAdded, " ")
				}
				refs := "none (a detached commit or uncommitted changes: protected environments with branches or tags refuse it)"
				if len(pub.Refs) > 0 {
					refs = strings.Join(pub.Refs, " ")
				}
				_, err := fmt.Fprintf(w, "%s %s\ndigest %s\nsigned by %s\nrefs %s\nstore %s\n", pub.Version, state, pub.Digest, pub.Signer, refs, pub.Store)
				return err
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", f.file, "the project's belay.yaml")
	fl.StringVar(&commit, "commit", "", "commit, branch or tag to build (default HEAD)")
	fl.BoolVar(&allowDirty, "allow-dirty", false, "build HEAD's working tree with uncommitted changes; the artifact is marked dirty")
	fl.StringVar(&f.store, "store", "", "artifact store: oci://host:port/repo or a directory (default artifacts.store, else $BELAY_HOME/artifacts)")
	fl.StringVar(&key, "key", "", "private key to sign with (default $BELAY_HOME/keys/belay.key)")
	return cmd
}

// build builds service at commit (default HEAD), signs it with key
// (default the home's) and publishes it to the project's store, recording
// it in belay's state: what `belay build` and `gate: build_artifact` do.
func (g *Globals) build(ctx context.Context, f *artifactFlags, p *spec.Project, service, commit, key string, allowDirty bool, progress io.Writer) (*artifact.Published, error) {
	req, err := buildRequest(p, f.file, service)
	if err != nil {
		return nil, err
	}
	req.Commit, req.AllowDirty, req.Progress = commit, allowDirty, progress
	home := g.HomeDir(f.file)
	if key == "" {
		key = filepath.Join(home, "keys", "belay.key")
	}
	signer, err := artifact.LoadSigner(key)
	if err != nil {
		return nil, err
	}
	store, err := f.openStore(g, p)
	if err != nil {
		return nil, err
	}
	state, err := g.OpenStore(ctx, f.file, nil)
	if err != nil {
		return nil, err
	}
	defer state.Close()
	b, err := artifact.Build(ctx, req)
	if err != nil {
		return nil, err
	}
	return artifact.Publish(ctx, store, b, artifact.PublishOptions{
		Signer: signer, Recorder: stateRecorder{s: state, where: fmt.Sprint(store)},
		Events: event.Tee(stateEvents{state}, event.NewFile(filepath.Join(home, "events.jsonl"))), Progress: progress,
	})
}
