package spec

import "time"

// Service is one deployable unit: how it is built, run, health-checked,
// smoke-tested, rolled out and rolled back.
type Service struct {
	Name            string          `yaml:"-" json:"name"`
	Owner           string          `yaml:"owner" json:"owner,omitempty"`
	Runbook         string          `yaml:"runbook" json:"runbook,omitempty"`
	Build           *Build          `yaml:"build" json:"build,omitempty"`
	Run             *Run            `yaml:"run" json:"run" belay:"required"`
	HealthCheck     *HealthCheck    `yaml:"health_check" json:"health_check"`
	SmokeTests      []*SmokeTest    `yaml:"smoke_tests" json:"smoke_tests,omitempty"`
	Rollout         *Rollout        `yaml:"rollout" json:"rollout" belay:"required"`
	RollbackTrigger Triggers        `yaml:"rollback_trigger" json:"rollback_trigger"`
	RollbackAction  RollbackActions `yaml:"rollback_action" json:"rollback_action"`
	Migration       *Migration      `yaml:"migration" json:"migration,omitempty"`
	Hooks           *Hooks          `yaml:"hooks" json:"hooks,omitempty"`
	Analysis        *Analysis       `yaml:"analysis" json:"analysis"`
	// SLO is the service's availability objective (slo.go).
	SLO *SLO `yaml:"slo" json:"slo,omitempty"`
	// Metrics adds named metrics to the project's for this service's
	// triggers; after Load it holds both (see MetricDef).
	Metrics MetricDefs `yaml:"metrics" json:"metrics,omitempty"`
	// Environments holds per-environment overrides, keyed by environment name.
	Environments map[string]*Override `yaml:"environments" json:"environments,omitempty"`
}

// Build is how an artifact of the service is made from a clean tree.
type Build struct {
	Command string   `yaml:"command" json:"command" belay:"required"`
	Outputs []string `yaml:"outputs" json:"outputs" belay:"required"`
	// Base, when set, is the image (REGISTRY/REPO@sha256:…, by digest
	// only) the artifact's layer goes on top of, so that an interpreter or
	// libc is there in a pod; its digest is in the signed provenance.
	Base string `yaml:"base" json:"base,omitempty"`
}

// Run is how an instance of the service is started. The instance must listen
// on the port given in $PORT (belay assigns it) unless Port fixes one.
type Run struct {
	Command string            `yaml:"command" json:"command" belay:"required"`
	Args    []string          `yaml:"args" json:"args,omitempty"`
	Port    int               `yaml:"port" json:"port,omitempty"`
	Env     map[string]string `yaml:"env" json:"env,omitempty" schema:"scalar"`
	// Secrets are the names of the environment's secrets (belay secrets
	// set) that instances and hooks get as environment variables.
	Secrets []string `yaml:"secrets" json:"secrets,omitempty"`
}

// Migration is the service's database migration step.
type Migration struct {
	Command string        `yaml:"command" json:"command,omitempty"`
	Type    MigrationType `yaml:"type" json:"type" belay:"required"`
	Timeout Duration      `yaml:"timeout" json:"timeout,omitempty"`
	// Files are globs, relative to the artifact's root, of the PostgreSQL
	// migration files the build packs (e.g. migrations/*.sql). When set, a
	// release reads the ones new since the previous stable and refuses a
	// declared type their statements exceed (belay gate migrations).
	Files []string `yaml:"files" json:"files,omitempty"`
	// InTransaction says the migration tool runs each file in a
	// transaction (a table created in it is new to the checks).
	InTransaction bool `yaml:"in_transaction" json:"in_transaction,omitempty"`
}

// Hooks are commands run around a rollout.
type Hooks struct {
	PreDeploy    string `yaml:"pre_deploy" json:"pre_deploy,omitempty"`
	PostPromote  string `yaml:"post_promote" json:"post_promote,omitempty"`
	PostRollback string `yaml:"post_rollback" json:"post_rollback,omitempty"`
}

// Analysis tunes the canary-vs-stable comparison. Defaults are documented on
// each field and filled in by Load.
type Analysis struct {
	// Alpha is the false-rollback rate the sequential test allows; default 0.01.
	Alpha float64 `yaml:"alpha" json:"alpha"`
	// MinEffect is the smallest regression, as a ratio of the stable error
	// rate, that promotion must have had the power to catch; default 10 (a 0.1 % stable error rate regressing to 1 %).
	MinEffect float64 `yaml:"min_effect" json:"min_effect"`
	// MinRequests is the canary traffic a step needs before it may promote;
	// default 100.
	MinRequests int `yaml:"min_requests" json:"min_requests"`
	// NoData is what a metric without data does; default hold.
	NoData NoDataPolicy `yaml:"no_data" json:"no_data"`
	// Inconclusive is what a step without enough traffic does; default extend.
	Inconclusive InconclusivePolicy `yaml:"inconclusive" json:"inconclusive"`
	// Source is where canary and stable metrics come from: builtin (the
	// agent's counters; default) or prometheus (Prometheus below).
	Source MetricSource `yaml:"source" json:"source"`
	// Prometheus is the server and queries for source: prometheus.
	Prometheus *PrometheusSource `yaml:"prometheus" json:"prometheus,omitempty"`
	// Test is the sequential test comparing canary with stable: msprt (a
	// mixture of SPRTs; default), beta (a Beta mixture) or none (no
	// comparison: only the rollback triggers judge the canary).
	Test SequentialTest `yaml:"test" json:"test"`
	// OnUnavailable, OnLowTraffic and OnSRM override Inconclusive for an
	// inconclusive verdict of that cause: metrics unavailable (the source is
	// down or slow), too little canary traffic by the step's deadline, and a
	// sample-ratio mismatch (the canary gets another share than its weight).
	OnUnavailable InconclusivePolicy `yaml:"on_unavailable" json:"on_unavailable,omitempty"`
	OnLowTraffic  InconclusivePolicy `yaml:"on_low_traffic" json:"on_low_traffic,omitempty"`
	OnSRM         InconclusivePolicy `yaml:"on_srm" json:"on_srm,omitempty"`
}

// inherit returns a service's analysis settings with the fields it leaves
// out taken from the project's (a prometheus block is taken whole).
func inherit(project, svc *Analysis) *Analysis {
	if project == nil {
		return svc
	}
	if svc == nil {
		c := *project
		return &c
	}
	c := *svc
	zero := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	if c.Alpha == 0 {
		c.Alpha = project.Alpha
	}
	if c.MinEffect == 0 {
		c.MinEffect = project.MinEffect
	}
	if c.MinRequests == 0 {
		c.MinRequests = project.MinRequests
	}
	if c.Prometheus == nil {
		c.Prometheus = project.Prometheus
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{{(*string)(&c.NoData), string(project.NoData)}, {(*string)(&c.Inconclusive), string(project.Inconclusive)},
		{(*string)(&c.Source), string(project.Source)}, {(*string)(&c.Test), string(project.Test)},
		{(*string)(&c.OnUnavailable), string(project.OnUnavailable)}, {(*string)(&c.OnLowTraffic), string(project.OnLowTraffic)},
		{(*string)(&c.OnSRM), string(project.OnSRM)}} {
		zero(f.dst, f.v)
	}
	return &c
}

// PrometheusSource is a Prometheus server the analysis queries.
type PrometheusSource struct {
	// URL is the server, e.g. http://127.0.0.1:9090.
	URL string `yaml:"url" json:"url" belay:"required"`
	// Timeout bounds each tick's queries; a slower answer is "metrics
	// unavailable". Default 5s.
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Queries replace the default PromQL templates one by one; each may use
	// {{service}}, {{version}} and {{environment}}.
	Queries *PrometheusQueries `yaml:"queries" json:"queries,omitempty"`
}

// PrometheusQueries are PromQL templates answering one number per version
// (buckets: one series per le label), cumulative since the version started.
type PrometheusQueries struct {
	Requests       string `yaml:"requests" json:"requests,omitempty"`
	Errors         string `yaml:"errors" json:"errors,omitempty"`
	Buckets        string `yaml:"buckets" json:"buckets,omitempty"`
	HealthFailures string `yaml:"health_failures" json:"health_failures,omitempty"`
	Restarts       string `yaml:"restarts" json:"restarts,omitempty"`
}

// Analysis defaults.
const (
	DefaultAlpha       = 0.01
	DefaultMinEffect   = 10.0
	DefaultMinRequests = 100
	DefaultPromTimeout = Duration(5 * time.Second)
)

// Override is a service's settings for one environment.
type Override struct {
	// Instances is how many instances run; default 1.
	Instances int `yaml:"instances" json:"instances,omitempty"`
	// Listen is this service's proxy address in the environment.
	Listen string `yaml:"listen" json:"listen,omitempty"`
	// Rollout replaces the service's rollout here (staging: all_at_once);
	// steps (for a stepped strategy), drain_timeout, sticky, shadow, watch
	// and keep_previous left out are the service's.
	Rollout *Rollout `yaml:"rollout" json:"rollout,omitempty"`
	// Env adds to or replaces the service's run.env here.
	Env map[string]string `yaml:"env" json:"env,omitempty" schema:"scalar"`
}
