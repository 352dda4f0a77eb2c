package spec

import (
	"fmt"
	"maps"
)

// Effective is a service's settings in one environment, overrides applied.
type Effective struct {
	Service     *Service          `json:"-"`
	Environment *Environment      `json:"-"`
	ServiceName string            `json:"service"`
	EnvName     string            `json:"environment"`
	Instances   int               `json:"instances"`
	Listen      string            `json:"listen,omitempty"`
	Rollout     *Rollout          `json:"rollout"`
	Env         map[string]string `json:"env,omitempty"`
	// Production is true for a protected or last environment.
	Production   bool `json:"production"`
	AutoRollback bool `json:"auto_rollback"`
}

// Effective returns service's settings in env with the environment's
// overrides applied: instances (default the kubernetes block's replicas, else 1), proxy listen address (the
// service's override, else the environment's), rollout, and run env merged.
func (p *Project) Effective(service, env string) (*Effective, error) {
	s := p.Service(service)
	if s == nil {
		return nil, fmt.Errorf("service %q is not defined in %s%s", service, p.File, suggest(service, p.serviceOrder))
	}
	e := p.Environment(env)
	if e == nil {
		return nil, fmt.Errorf("environment %q is not defined in %s%s", env, p.File, suggest(env, p.EnvironmentNames()))
	}
	eff := &Effective{
		Service: s, Environment: e, ServiceName: s.Name, EnvName: e.Name,
		Instances: 1, Listen: e.Listen, Rollout: s.Rollout,
		Production: p.Production(e), AutoRollback: e.AutoRollbackEnabled(),
	}
	if e.Kubernetes != nil && e.Kubernetes.Replicas > 0 {
		eff.Instances = e.Kubernetes.Replicas
	}
	if s.Run != nil {
		eff.Env = maps.Clone(s.Run.Env)
	}
	if o := s.Environments[env]; o != nil {
		if o.Instances > 0 {
			eff.Instances = o.Instances
		}
		if o.Listen != "" {
			eff.Listen = o.Listen
		}
		if o.Rollout != nil {
			eff.Rollout = o.Rollout
		}
		if len(o.Env) > 0 {
			if eff.Env == nil {
				eff.Env = map[string]string{}
			}
			maps.Copy(eff.Env, o.Env)
		}
	}
	return eff, nil
}
