package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/belay-dev/belay/internal/agent"
	"github.com/belay-dev/belay/internal/spec"
)

// agentOpener opens what the agent is asked to run. Artifact references (a
// version or a sha256 digest) are verified and unpacked from the project's
// artifact store; "dir:PATH" references name a directory on this host, for
// development. Without a project file only directories can be run.
type agentOpener struct {
	arts *artifactStore
}

var _ agent.Opener = agentOpener{}

func newAgentOpener(g *Globals, file string) (agentOpener, error) {
	if file == "" {
		return agentOpener{}, nil
	}
	p, err := spec.Load(file)
	if err != nil {
		return agentOpener{}, err
	}
	a, err := openArtifacts(g, file, p)
	if err != nil {
		return agentOpener{}, err
	}
	return agentOpener{arts: &a}, nil
}

func (o agentOpener) Open(ctx context.Context, ref string) (string, error) {
	if strings.HasPrefix(ref, "dir:") || filepath.IsAbs(ref) {
		return agent.DirOpener{}.Open(ctx, ref)
	}
	if o.arts == nil {
		return "", fmt.Errorf("cannot open artifact %s: this agent was started without a project (-f belay.yaml), so it has no artifact store", ref)
	}
	return o.arts.Open(ctx, ref)
}

// projectFileFor is -f when given, else ./belay.yaml when it exists.
func projectFileFor(flag string) string {
	if flag != "" {
		return flag
	}
	if _, err := os.Stat("belay.yaml"); err == nil {
		return "belay.yaml"
	}
	return ""
}
