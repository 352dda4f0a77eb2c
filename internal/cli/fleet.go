package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target/fleet"
	"github.com/belay-dev/belay/internal/target/local"
)

// serverTarget is what the server drives: the local agent on socket, and,
// for each environment listing hosts in belay.yaml (file), a fleet of
// their agents reached over TLS with the tokens their token_env variables
// hold.
func serverTarget(p *spec.Project, file, socket string) (fleet.Agent, error) {
	lc := local.Unix(socket)
	fleets := map[string]*fleet.Fleet{}
	dir := filepath.Dir(file)
	for _, e := range p.Environments {
		if e.Target == spec.TargetKubernetes {
			// belay.yaml describes the cluster (spec.Kubernetes); until the
			// server drives it, refusing here beats deploying to the local agent.
			return nil, fmt.Errorf("environment %s has target: kubernetes, which this server cannot drive yet: "+
				"run the environment on target: local (or hosts:) for now", e.Name)
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
	if len(fleets) == 0 {
		return lc, nil
	}
	return &fleet.Router{Fleets: fleets, Local: lc}, nil
}
