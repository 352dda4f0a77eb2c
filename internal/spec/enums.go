package spec

// Impact is what a failed pipeline step does to the release (the seed's
// "Release Impact" column).
type Impact string

// Release impacts.
const (
	ImpactBlock          Impact = "block"           // any failure stops the release
	ImpactBlockCritical  Impact = "block_critical"  // only critical findings (critical paths, critical severity) stop it
	ImpactBlockUnsafe    Impact = "block_unsafe"    // only unsafe (destructive, locking) migrations stop it
	ImpactBlockPromotion Impact = "block_promotion" // the release may deploy but not be promoted
	ImpactWarn           Impact = "warn"            // recorded as evidence, never blocks
)

func (Impact) values() []string {
	return []string{"block", "block_critical", "block_unsafe", "block_promotion", "warn"}
}

// Gate is a check or pipeline action built into belay.
type Gate string

// Built-in gates.
const (
	GateSecrets           Gate = "secrets"             // secret scanning of the tree
	GateMigrationCheck    Gate = "migration_check"     // destructive or unsafe DB changes
	GateDependencyAudit   Gate = "dependency_audit"    // vulnerable packages
	GateContainerScan     Gate = "container_scan"      // vulnerable base image and packages
	GateSmokeTests        Gate = "smoke_tests"         // the services' smoke_tests against a deployment
	GateHealth            Gate = "health"              // health checks and rollback triggers during a rollout
	GateBuildArtifact     Gate = "build_artifact"      // belay build: immutable, signed artifact
	GatePublishArtifact   Gate = "publish_artifact"    // push the artifact to the configured store
	GatePromoteOrRollback Gate = "promote_or_rollback" // analysis verdict: promote, or run the rollback actions
	GateParity            Gate = "parity"              // every environment the same shape as the next (belay parity)
)

// Gates lists the built-in gates.
func Gates() []string { return Gate("").values() }

func (Gate) values() []string {
	return []string{"secrets", "migration_check", "dependency_audit", "container_scan", "smoke_tests",
		"health", "build_artifact", "publish_artifact", "promote_or_rollback", "parity"}
}

// Strategy is how a rollout shifts traffic to the new version.
type Strategy string

// Rollout strategies. Staged is the seed's word for a canary.
const (
	AllAtOnce Strategy = "all_at_once"
	Canary    Strategy = "canary"
	Staged    Strategy = "staged"
)

func (Strategy) values() []string { return []string{"all_at_once", "canary", "staged"} }

// Stepped reports whether the strategy moves traffic in canary steps.
func (s Strategy) Stepped() bool { return s == Canary || s == Staged }

// MigrationType says whether a release's database migration keeps the
// previous version working (expand_only) or not (contract).
type MigrationType string

// Migration types.
const (
	ExpandOnly  MigrationType = "expand_only"
	Contract    MigrationType = "contract"
	NoMigration MigrationType = "none"
)

func (MigrationType) values() []string { return []string{"expand_only", "contract", "none"} }

// NoDataPolicy is what analysis does when a metric has no data.
type NoDataPolicy string

// No-data policies; none of them is a silent pass unless written as "pass".
const (
	NoDataHold NoDataPolicy = "hold" // keep the current step and wait
	NoDataFail NoDataPolicy = "fail" // treat as a failed check
	NoDataPass NoDataPolicy = "pass" // explicitly accept
)

func (NoDataPolicy) values() []string { return []string{"hold", "fail", "pass"} }

// InconclusivePolicy is what analysis does when a step ends without enough
// traffic to decide.
type InconclusivePolicy string

// Inconclusive policies.
const (
	InconclusiveExtend   InconclusivePolicy = "extend"
	InconclusivePause    InconclusivePolicy = "pause"
	InconclusiveRollback InconclusivePolicy = "rollback"
)

func (InconclusivePolicy) values() []string { return []string{"extend", "pause", "rollback"} }

// Method is an HTTP method a smoke test may use.
type Method string

func (Method) values() []string { return []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} }

// TargetKind names where an environment runs its services.
type TargetKind string

// Targets.
const (
	TargetLocal      TargetKind = "local"      // the belay agent on this host, or the hosts: listed
	TargetKubernetes TargetKind = "kubernetes" // a Kubernetes cluster (the environment's kubernetes: block)
)

func (TargetKind) values() []string { return []string{"local", "kubernetes"} }

// Traffic is how a kubernetes environment splits traffic between a
// service's stable and canary versions.
type Traffic string

// Traffic modes.
const (
	// TrafficGateway sets backend weights on a Gateway API HTTPRoute
	// attached to the environment's gateway.
	TrafficGateway Traffic = "gateway"
	// TrafficReplicas splits by the ratio of ready pods behind one Service:
	// the weight achieved is reported (4 replicas: 25 % steps).
	TrafficReplicas Traffic = "replicas"
)

func (Traffic) values() []string { return []string{"gateway", "replicas"} }

// MetricSource names where analysis reads canary and stable metrics.
type MetricSource string

// Metric sources.
const (
	SourceBuiltin    MetricSource = "builtin"    // the belay agent's own counters
	SourcePrometheus MetricSource = "prometheus" // PromQL against a Prometheus server
)

func (MetricSource) values() []string { return []string{"builtin", "prometheus"} }

// SequentialTest names the anytime-valid test comparing canary with stable.
type SequentialTest string

// Sequential tests.
const (
	TestMSPRT SequentialTest = "msprt" // mixture of SPRTs over rate ratios
	TestBeta  SequentialTest = "beta"  // Beta mixture
	TestNone  SequentialTest = "none"  // no comparison: only the rollback triggers judge
)

func (SequentialTest) values() []string { return []string{"msprt", "beta", "none"} }

// DownstreamPolicy is what an environment does when a version it runs as
// stable is rolled back in a later environment.
type DownstreamPolicy string

// Downstream policies.
const (
	DownstreamKeep     DownstreamPolicy = "keep"     // keep it as this environment's stable
	DownstreamRollback DownstreamPolicy = "rollback" // roll it back here too
)

func (DownstreamPolicy) values() []string { return []string{"keep", "rollback"} }

// PendingPolicy is what a release does when the environment's service
// stack has unapplied changes or unacknowledged drift (the release path's
// Infrastructure Plan phase).
type PendingPolicy string

// Pending policies.
const (
	PendingBlock PendingPolicy = "block" // stop the release there (the default)
	PendingWarn  PendingPolicy = "warn"  // go on, the same evidence recorded as a warning
)

func (PendingPolicy) values() []string { return []string{"block", "warn"} }
