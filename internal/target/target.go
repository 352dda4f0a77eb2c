// Package target defines where services run: a Target starts versions of a
// service in an environment and splits traffic between them. Implementations
// live in subpackages (local: the belay agent on this host); targettest holds
// the suite every implementation passes.
package target

import (
	"context"
	"errors"
	"time"
)

// Errors a Target reports; wrap them with fmt.Errorf("%w: …").
var (
	ErrNotFound  = errors.New("not found")             // no such service, environment or version
	ErrArtifact  = errors.New("artifact unusable")     // missing, or fails verification
	ErrUnhealthy = errors.New("version never healthy") // instances did not pass health checks within HealthTimeout
	ErrInvalid   = errors.New("invalid desired state") // weights do not add up, unknown fields, …
)

// Target runs versions of services in an environment and splits traffic between them.
type Target interface {
	// Apply makes the service in want.Environment match want; it is
	// idempotent, and returns once new versions are healthy and weights are
	// in force (or with an error, leaving versions that were serving as they were).
	Apply(ctx context.Context, want Desired) error
	// Observe reports instances, readiness and weights in force.
	Observe(ctx context.Context, env, service string) (Observed, error)
}

// Metrics is an optional ability: cumulative per-version counters that the
// analysis differences between two observations.
type Metrics interface {
	Counters(ctx context.Context, env, service string) ([]Counters, error)
}

// Desired is the state wanted for one service in one environment.
type Desired struct {
	Environment string `json:"environment"`
	Service     string `json:"service"`
	Listen      string `json:"listen,omitempty"` // proxy address, e.g. 127.0.0.1:8080
	// Versions absent here are drained and stopped; none at all stops every
	// instance of the service, and its address answers 503.
	Versions []Version `json:"versions"`
	Sticky   *Sticky   `json:"sticky,omitempty"`
	// VersionHeader, when set, names the response header carrying the version that served.
	VersionHeader string        `json:"version_header,omitempty"`
	DrainTimeout  time.Duration `json:"drain_timeout,omitempty"`
	// Shadow, when set, copies a share of the service's requests, once they
	// are answered, to a version that takes no traffic itself.
	Shadow *Shadow `json:"shadow,omitempty"`
	// Logs, when set, ships the instances' output to an HTTP endpoint (the
	// service stack's log_forwarding); a Desired without it (nor KeepLogs) stops shipping.
	Logs *LogForward `json:"logs,omitempty"`
	// KeepLogs leaves the target's current log forwarding as it is (Logs
	// is then ignored): the server could not read the setting and has
	// none read before, e.g. just after it restarted.
	KeepLogs bool `json:"keep_logs,omitempty"`
}

// LogForward is where a target ships a service's instance logs: batches of
// newline-delimited JSON objects POSTed to URL.
type LogForward struct {
	URL string `json:"url"` // http or https
	// TokenSecret names the environment secret sent as a bearer token;
	// Token is its value, resolved just before a Desired goes to the target
	// (as Run.SecretEnv is), never shown (a target redacts it like one).
	TokenSecret string `json:"token_secret,omitempty"`
	Token       string `json:"token,omitempty"`
}

// Shadow is mirrored traffic: the copies' answers are measured beside the
// answers users got for the same requests, and thrown away.
type Shadow struct {
	Version string   `json:"version"`           // one of Versions, with weight 0
	Share   float64  `json:"share"`             // percent of requests copied, 0 < Share ≤ 100
	Methods []string `json:"methods,omitempty"` // copied methods; none: GET, HEAD, OPTIONS
	// MaxInFlight bounds the copies waiting for an answer (0: the target's default).
	MaxInFlight int `json:"max_in_flight,omitempty"`
	// MaxRate bounds the copies per second (0: unbounded).
	MaxRate float64 `json:"max_rate,omitempty"`
	// Replay, when set, names the environment whose recent requests to the
	// same service are replayed instead of mirroring this environment's own
	// traffic: a staging with no users judges Version on production's
	// requests, each sent to the stable version (highest weight) and to
	// Version. Share, Methods and MaxRate then do not apply.
	Replay string `json:"replay,omitempty"`
	// ReplayRate is replayed requests per second (0: 50).
	ReplayRate float64 `json:"replay_rate,omitempty"`
	// DropHeaders are removed from replayed requests, beyond the
	// credentials that are never recorded (Authorization, Cookie).
	DropHeaders []string `json:"drop_headers,omitempty"`
}

// Version is one version of the service and its share of traffic.
type Version struct {
	Version   string  `json:"version"`   // e.g. api-2026.05.12-8f3a91c
	Artifact  string  `json:"artifact"`  // artifact reference (digest) the target opens and verifies
	Instances int     `json:"instances"` // processes or pods
	Weight    float64 `json:"weight"`    // percent of traffic, 0–100, weights of a Desired sum to 100
	Run       Run     `json:"run"`
	Health    Health  `json:"health"`
}

// Run says how to start one instance.
type Run struct {
	Command string            `json:"command"` // a file inside the artifact, or a command on PATH
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	// Secrets names the environment's secrets the instances get; what a
	// server keeps of a version (the rollout's state) holds only these names.
	Secrets []string `json:"secrets,omitempty"`
	// SecretEnv is their values, resolved just before a Desired goes to
	// the target: an instance's env, never shown (a target redacts them from
	// the logs and errors it shows).
	SecretEnv map[string]string `json:"secret_env,omitempty"`
	// GracePeriod is how long an instance has between SIGTERM and SIGKILL.
	GracePeriod time.Duration `json:"grace_period,omitempty"`
}

// Health is a version's health check.
type Health struct {
	HTTPPath           string        `json:"http_path,omitempty"` // HTTP check when set, else TCP
	ExpectStatus       int           `json:"expect_status,omitempty"`
	Interval           time.Duration `json:"interval,omitempty"`
	Timeout            time.Duration `json:"timeout,omitempty"`
	UnhealthyThreshold int           `json:"unhealthy_threshold,omitempty"`
	// HealthTimeout bounds how long Apply waits for new instances to become healthy.
	HealthTimeout time.Duration `json:"health_timeout,omitempty"`
}

// Sticky keeps a client on one version by hashing a header or cookie.
type Sticky struct {
	Header string `json:"header,omitempty"`
	Cookie string `json:"cookie,omitempty"` // set by the proxy when absent
}

// Observed is what runs for one service in one environment.
type Observed struct {
	Environment string            `json:"environment"`
	Service     string            `json:"service"`
	Listen      string            `json:"listen,omitempty"`
	Versions    []ObservedVersion `json:"versions"`
	// Hosts, from a target spread over several, says which it could not
	// reach (their instances count as not ready) and each one's address.
	Hosts []HostState `json:"hosts,omitempty"`
}

// ObservedVersion is the state of one version.
type ObservedVersion struct {
	Version        string  `json:"version"`
	Weight         float64 `json:"weight"` // percent in force
	Instances      int     `json:"instances"`
	Ready          int     `json:"ready"`
	HealthFailures int64   `json:"health_failures"` // cumulative failed checks
	Restarts       int64   `json:"restarts"`        // cumulative restarts
	// Problems are why instances are not ready, as the target reports
	// them (e.g. "ImagePullBackOff: …"): evidence for a stopped rollout.
	Problems []string `json:"problems,omitempty"`
}

// Counters are cumulative request measurements of one version.
type Counters struct {
	Version  string `json:"version"`
	Requests int64  `json:"requests"`
	Errors   int64  `json:"errors"` // 5xx answers and proxy errors
	InFlight int64  `json:"in_flight"`
	// Latency is a cumulative histogram: Counts[i] requests took at most
	// Bounds[i] seconds (not cumulative across buckets); the last bucket is +Inf.
	LatencyBounds  []float64 `json:"latency_bounds"`
	LatencyCounts  []int64   `json:"latency_counts"`
	HealthFailures int64     `json:"health_failures"`
	Restarts       int64     `json:"restarts"`
	At             time.Time `json:"at"`
	// Shadow is set on the version receiving mirrored copies.
	Shadow *ShadowCounters `json:"shadow,omitempty"`
}

// ShadowCounters are cumulative measurements of mirrored copies. A pair is
// one copied request's two answers, the user's (from the version that
// served it) and the copy's; failed means 5xx or no answer.
type ShadowCounters struct {
	Sent         int64            `json:"sent"`
	Dropped      map[string]int64 `json:"dropped,omitempty"` // by reason: method, body, in_flight, rate, no_instance, no_sample
	BothOK       int64            `json:"both_ok"`
	NewFailed    int64            `json:"new_failed"`    // the user's answer ok, the copy's failed
	StableFailed int64            `json:"stable_failed"` // the user's answer failed, the copy's ok
	BothFailed   int64            `json:"both_failed"`
	// Latency of the paired answers, per side, in the buckets of LatencyBounds.
	StableLatencyCounts []int64 `json:"stable_latency_counts"`
	NewLatencyCounts    []int64 `json:"new_latency_counts"`
	// NewSlower[i] counts the pairs where only the copy took longer than
	// LatencyBounds[i]; StableSlower[i] those where only the user's answer
	// did: the discordant pairs of a "slow" event at each bound.
	NewSlower    []int64 `json:"new_slower"`
	StableSlower []int64 `json:"stable_slower"`
}

// Hosts is an optional ability of a target spread over several hosts: a
// host it cannot reach is unknown, and a rollout holds (neither promotes
// nor rolls back for that alone) while one is.
type Hosts interface {
	// Unknown checks env's hosts and returns those that cannot be reached
	// now (none: every host is known). A host that answers again is first
	// brought to the desired state.
	Unknown(ctx context.Context, env string) []HostState
}

// HostState is one host of a target spread over several.
type HostState struct {
	Name    string    `json:"name"`
	Address string    `json:"address"`
	Unknown bool      `json:"unknown,omitempty"`
	Error   string    `json:"error,omitempty"` // why it is unknown
	Since   time.Time `json:"since,omitzero"`  // unknown since
	Listen  string    `json:"listen,omitempty"`
}

// Drifter is an optional ability: what was changed in a target outside
// belay since belay last applied a service (another image digest, replica
// count or environment variable set by hand). A rollout does not proceed
// over drift unless the operator adopts it, and the adoption is audited.
type Drifter interface {
	Drift(ctx context.Context, env, service string) ([]Drift, error)
}

// Drift is one field of one object that differs from what belay applied.
type Drift struct {
	Object string `json:"object"` // e.g. Deployment/hello-production-stable
	Field  string `json:"field"`  // e.g. spec.template.spec.containers[app].image
	Want   string `json:"want"`   // as belay applied it
	Found  string `json:"found"`  // as the target has it now
}
