package spec

import "path/filepath"

// Project is a parsed belay.yaml: how the services of one repository are
// built, checked, deployed and rolled back, environment by environment.
type Project struct {
	// Name is the project's name; optional, defaults to nothing.
	Name         string        `yaml:"project" json:"project,omitempty"`
	Pipeline     *Pipeline     `yaml:"pipeline" json:"pipeline,omitempty"`
	ServiceStack *ServiceStack `yaml:"service_stack" json:"service_stack,omitempty"`
	Artifacts    *Artifacts    `yaml:"artifacts" json:"artifacts"`
	// Analysis gives every service's analysis settings; a service's own
	// analysis fields win over these.
	Analysis *Analysis           `yaml:"analysis" json:"analysis,omitempty"`
	Services map[string]*Service `yaml:"services" json:"services" belay:"required"`
	// Environments are in promotion order; the last is production.
	Environments []*Environment `yaml:"environments" json:"environments" belay:"required"`
	// Flags are the feature flags belay serves (OFREP), keyed by flag key.
	Flags map[string]*Flag `yaml:"flags" json:"flags,omitempty"`
	// ReleasePlan optionally holds the current release plan in context; it is
	// checked against the services.
	ReleasePlan *ReleasePlan `yaml:"release_plan" json:"release_plan,omitempty"`
	// Events are the sinks the server sends events to (webhooks, CDEvents,
	// Grafana annotations).
	Events *Events `yaml:"events" json:"events,omitempty"`
	// Parity holds the declared exceptions of belay parity (parity.go).
	Parity *Parity `yaml:"parity" json:"parity,omitempty"`

	// Metrics are named service metrics (PromQL templates) that every
	// service's rollback triggers may watch; see MetricDef.
	Metrics MetricDefs `yaml:"metrics" json:"metrics,omitempty"`

	File         string         `yaml:"-" json:"file"`
	serviceOrder []string       // service names in file order
	pos          map[string]Pos // field path → where it is written (see At)
}

// Artifacts says where built artifacts are stored and whose signatures count.
type Artifacts struct {
	// Store is "local" (an OCI layout under the state directory) or an OCI
	// registry URL such as oci://127.0.0.1:5000/belay. Default local.
	Store string `yaml:"store" json:"store"`
	// TrustedKeys are public key files, relative to belay.yaml, whose
	// signatures verify an artifact.
	TrustedKeys []string `yaml:"trusted_keys" json:"trusted_keys,omitempty"`
}

// ServiceNames lists the services in the order the file declares them.
func (p *Project) ServiceNames() []string { return append([]string(nil), p.serviceOrder...) }

// Service returns the named service, or nil.
func (p *Project) Service(name string) *Service { return p.Services[name] }

// Environment returns the named environment, or nil.
func (p *Project) Environment(name string) *Environment {
	for _, e := range p.Environments {
		if e != nil && e.Name == name {
			return e
		}
	}
	return nil
}

// EnvironmentNames lists the environments in promotion order.
func (p *Project) EnvironmentNames() []string {
	out := make([]string, len(p.Environments))
	for i, e := range p.Environments {
		if e != nil {
			out[i] = e.Name
		}
	}
	return out
}

// Production reports whether env is treated as production: protected, or
// last in promotion order.
func (p *Project) Production(env *Environment) bool {
	return env != nil && (env.Protected() || len(p.Environments) > 0 && p.Environments[len(p.Environments)-1] == env)
}

// Next returns the environment after env in promotion order, or nil.
func (p *Project) Next(env string) *Environment {
	for i, e := range p.Environments {
		if e != nil && e.Name == env && i+1 < len(p.Environments) {
			return p.Environments[i+1]
		}
	}
	return nil
}

// Dir is the directory of the project file: relative paths in it (build
// outputs, trusted keys, commands) are relative to Dir.
func (p *Project) Dir() string { return filepath.Dir(p.File) }
