package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/target"
	"github.com/belay-dev/belay/internal/target/kubernetes"

	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target/fleet"
	"github.com/belay-dev/belay/internal/target/local"
)

// serverTarget is what the server drives: the local agent on socket; for
// each environment listing hosts in belay.yaml (file), a fleet of their
// agents reached over TLS with the tokens their token_env variables hold;
// and for each environment with target: kubernetes, its namespace of its
// cluster, to whose registry each version's artifact is copied from arts
// before it is deployed by digest.
func serverTarget(p *spec.Project, file, socket string, arts artifact.Store) (fleet.Agent, error) {
	lc := local.Unix(socket)
	fleets := map[string]*fleet.Fleet{}
	kube := map[string]target.Target{}
	dir := filepath.Dir(file)
	for _, e := range p.Environments {
		if e.Target == spec.TargetKubernetes {
			t, err := kubeTarget(e, dir, arts)
			if err != nil {
				return nil, fmt.Errorf("environment %s: %w", e.Name, err)
			}
			kube[e.Name] = t
			continue
		}
		if len(e.Hosts) == 0 {
			continue
		}
		var hosts []fleet.Host
		for _, h := range e.Hosts {
			token := os.Getenv(h.TokenEnv)
			if token == "" {
				return nil, fmt.Errorf("environment %s, host %s: the variable %s named by its token_env is not set: "+
					"set it in the server's environment to the token the agent on %s was started with (--token or BELAY_AGENT_TOKEN)",
					e.Name, h.Name, h.TokenEnv, h.API)
			}
			ca := h.CAFile
			if !filepath.IsAbs(ca) {
				ca = filepath.Join(dir, ca)
			}
			c, err := local.TLS(h.API, token, ca)
			if err != nil {
				return nil, fmt.Errorf("environment %s, host %s: ca_file: %w (copy the agent's STATE/api.crt, made with --tls-self-signed, or its CA there)", e.Name, h.Name, err)
			}
			hosts = append(hosts, fleet.Host{Name: h.Name, Address: h.API, Agent: c})
		}
		f, err := fleet.New(hosts)
		if err != nil {
			return nil, fmt.Errorf("environment %s: %w", e.Name, err)
		}
		fleets[e.Name] = f
	}
	if len(fleets) == 0 && len(kube) == 0 {
		return lc, nil
	}
	return &fleet.Router{Fleets: fleets, Kubernetes: kube, Local: lc}, nil
}

// kubeTarget is the Kubernetes target of environment e as its kubernetes:
// block describes it (kubeconfig relative to dir, belay.yaml's directory).
func kubeTarget(e *spec.Environment, dir string, arts artifact.Store) (*kubernetes.Images, error) {
	k := e.Kubernetes
	if k == nil {
		return nil, fmt.Errorf("target: kubernetes without a kubernetes: block; add one with namespace and registry")
	}
	kc, err := k.KubeconfigFile(dir)
	if err != nil {
		return nil, err
	}
	cfg := kubernetes.Config{
		Kubeconfig: kc, Context: k.Context, Namespace: k.Namespace,
		Traffic:           kubernetes.Traffic(k.Traffic),
		AbortCleanupDelay: time.Duration(k.AbortCleanup),
		Registry:          registryHost(k.Registry),
	}
	if g := k.Gateway; g != nil {
		cfg.Gateway = kubernetes.GatewayRef{Name: g.Name, Namespace: k.GatewayNamespace()}
	}
	t, err := kubernetes.New(cfg)
	if err != nil {
		return nil, err
	}
	return &kubernetes.Images{Target: t, Store: arts, Repository: k.Image}, nil
}

// registryHost is the host[:port] of a repository prefix.
func registryHost(repo string) string {
	h, _, _ := strings.Cut(repo, "/")
	return h
}
