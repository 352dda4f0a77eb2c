// Package api holds the wire types of belay's HTTP/JSON API under /api/v1,
// shared by the server that answers and the clients (CLI, demo) that ask.
package api

import (
	"encoding/json"
	"time"

	"github.com/belay-dev/belay/internal/explain"
	"github.com/belay-dev/belay/internal/flag"
	"github.com/belay-dev/belay/internal/release"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target"
)

// VersionHeader names the version that served a request through the proxy;
// a request carrying it is routed to that version.
const VersionHeader = "X-Belay-Version"

// ReleaseRequest asks for a release of a version.
type ReleaseRequest struct {
	Service string `json:"service"`
	Version string `json:"version"`
	// Actor is who asks for the release. The release's owner is the
	// service's owner in belay.yaml; Owner stands in when belay.yaml and the
	// plan file name none, and the actor when Owner is empty too.
	Actor         string `json:"actor,omitempty"`
	Owner         string `json:"owner,omitempty"`
	AllowContract bool   `json:"allow_contract,omitempty"`
	Reason        string `json:"reason,omitempty"`
	// Environment starts the release there instead of the first environment;
	// every earlier environment must already run this version as stable.
	Environment string `json:"environment,omitempty"`
	// PlanYAML is a plan file in the seed's shape (belay release -f plan.yaml).
	PlanYAML string `json:"plan_yaml,omitempty"`
	// Supersede: wherever this release must wait for a busy environment, it
	// takes the place of older releases of the service waiting there.
	Supersede bool `json:"supersede,omitempty"`
	// Adopt: what the environments' targets report changed outside belay
	// (drift) does not stop this release; the adoption is audited.
	Adopt bool `json:"adopt,omitempty"`
}

// ReleaseAnswer is a created release and its first rollout.
type ReleaseAnswer struct {
	Release int64        `json:"release"`
	Plan    release.Plan `json:"plan"`
	Rollout int64        `json:"rollout"`
	Env     string       `json:"environment"`
}

// CommandRequest is a person's command over the API.
type CommandRequest struct {
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
	Env    string `json:"environment,omitempty"`
	To     string `json:"to,omitempty"`
}

// RollbackRequest asks for a rollback of a service in an environment.
type RollbackRequest struct {
	CommandRequest
	Service        string `json:"service"`
	AcceptContract bool   `json:"accept_contract,omitempty"`
	// Force allows To to be a version that was rolled back somewhere or was
	// never stable in the environment.
	Force bool `json:"force,omitempty"`
}

// RollbackAnswer reports a rollback: the rollout that carries it out.
type RollbackAnswer struct {
	Service     string `json:"service"`
	Environment string `json:"environment"`
	From        string `json:"from"`
	To          string `json:"to"`
	Rollout     int64  `json:"rollout"`
	// Forced names why the target needed --force (empty when it did not).
	Forced string `json:"forced,omitempty"`
}

// RolloutView is a rollout with its history, for status and explain.
type RolloutView struct {
	ID          int64                `json:"id"`
	Release     int64                `json:"release"`
	Service     string               `json:"service"`
	Environment string               `json:"environment"`
	Version     string               `json:"version"`
	Phase       string               `json:"phase"`
	Terminal    bool                 `json:"terminal"`
	Kind        rollout.Kind         `json:"kind,omitempty"`
	Reason      string               `json:"reason,omitempty"`
	WatchLeft   string               `json:"watch_left,omitempty"` // during the watch
	State       json.RawMessage      `json:"state,omitempty"`
	Transitions []rollout.Transition `json:"transitions,omitempty"`
	// Summary and Decisions tell the transitions in plain words (explain
	// only): the decision that settled where the rollout is, then one per
	// transition that is not bookkeeping, by its seq.
	Summary   *explain.Decision  `json:"summary,omitempty"`
	Decisions []explain.Decision `json:"decisions,omitempty"`
	CreatedAt time.Time          `json:"created_at"`
	UpdatedAt time.Time          `json:"updated_at"`
}

// QueueView is a release waiting for (or done waiting for) an environment.
type QueueView struct {
	ID          int64     `json:"id"`
	Release     int64     `json:"release"`
	Service     string    `json:"service"`
	Version     string    `json:"version"`
	Environment string    `json:"environment"`
	State       string    `json:"state"` // waiting, started, cancelled, superseded
	Reason      string    `json:"reason,omitempty"`
	Rollout     int64     `json:"rollout,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// EnvStatus is one service in one environment.
type EnvStatus struct {
	Environment string `json:"environment"`
	Stable      string `json:"stable,omitempty"`
	Rejected    bool   `json:"stable_rejected,omitempty"` // the stable version was rolled back elsewhere
	OnRejected  string `json:"on_rejected_downstream,omitempty"`
	// RejectedIn, RejectedAt and RejectedRollout say where, when and by
	// which rollout the stable version was last rolled back (only when
	// Rejected); RollbackTo is the version `belay rollback` without --to
	// would return this environment to, empty when there is none.
	RejectedIn      string           `json:"stable_rejected_in,omitempty"`
	RejectedAt      *time.Time       `json:"stable_rejected_at,omitempty"`
	RejectedRollout int64            `json:"stable_rejected_rollout,omitempty"`
	RollbackTo      string           `json:"rollback_to,omitempty"`
	Rollout         *RolloutView     `json:"rollout,omitempty"`
	Queue           []QueueView      `json:"queue,omitempty"`
	Observed        *target.Observed `json:"observed,omitempty"`
	ObserveErr      string           `json:"observe_error,omitempty"`
}

// ServiceStatus is one service across its environments.
type ServiceStatus struct {
	Service      string      `json:"service"`
	Environments []EnvStatus `json:"environments"`
}

// Outcomes of a release.
const (
	OutcomeRunning    = "running"     // a rollout is in flight
	OutcomeWaiting    = "waiting"     // queued for a busy environment
	OutcomeSucceeded  = "succeeded"   // stable in the last environment
	OutcomeRolledBack = "rolled_back" // rolled back in some environment
	OutcomeFailed     = "failed"      // a rollout failed
	OutcomeCancelled  = "cancelled"   // its queue entry was cancelled or superseded
)

// ReleaseView is a release followed through its environments.
type ReleaseView struct {
	ID           int64         `json:"id"`
	Service      string        `json:"service"`
	Version      string        `json:"version"`
	Owner        string        `json:"owner"`
	Environments []string      `json:"environments"`
	Outcome      string        `json:"outcome"`
	Done         bool          `json:"done"`
	Reason       string        `json:"reason,omitempty"`
	Rollouts     []RolloutView `json:"rollouts"`
	Queue        []QueueView   `json:"queue,omitempty"`
	CreatedAt    time.Time     `json:"created_at"`
}

// TokenRequest asks for a new API token.
type TokenRequest struct {
	Name         string   `json:"name"`
	Role         string   `json:"role"`
	Environments []string `json:"environments,omitempty"` // none: every environment
	// ExpiresIn is how long the token lives: a Go duration or days ("90d"); "" never expires.
	ExpiresIn string `json:"expires_in,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// TokenView is a token as listed: never its secret.
type TokenView struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Role         string    `json:"role"`
	Environments []string  `json:"environments,omitempty"`
	CreatedBy    string    `json:"created_by"`
	Created      time.Time `json:"created"`
	Expires      time.Time `json:"expires,omitzero"`
	Revoked      time.Time `json:"revoked,omitzero"`
	RevokedBy    string    `json:"revoked_by,omitempty"`
}

// TokenCreated is a new token: the only answer that carries its secret.
type TokenCreated struct {
	TokenView
	Token string `json:"token"`
}

// Whoami is the identity of the token a request carried.
type Whoami struct {
	Name         string   `json:"name"`
	Role         string   `json:"role"`
	Environments []string `json:"environments,omitempty"`
	TokenID      int64    `json:"token_id"`
}

// AuditEntry is an entry of the audit log with its leaf hash (base64).
type AuditEntry struct {
	ID      int64           `json:"id"`
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"`
	Action  string          `json:"action"`
	Subject string          `json:"subject"`
	Reason  string          `json:"reason,omitempty"`
	Detail  json.RawMessage `json:"detail,omitempty"`
	Leaf    []byte          `json:"leaf"`
}

// AuditCheckpoint is a signed checkpoint of the audit log: Note is the
// signed note ("belay audit log", size, base64 root, signature).
type AuditCheckpoint struct {
	Size int64  `json:"size"`
	Root string `json:"root"`
	Note string `json:"note"`
	// Key is the server's verifier key, as in <home>/audit.pub.
	Key string `json:"key"`
}

// AuditVerifyRequest asks to verify the audit log, also against a
// checkpoint saved earlier (its note text) when given.
type AuditVerifyRequest struct {
	Checkpoint string `json:"checkpoint,omitempty"`
}

// AuditProblem is one place where the audit log is not what was appended.
type AuditProblem struct {
	ID       int64  `json:"id"`
	Position int64  `json:"position"`
	Kind     string `json:"kind"` // edited, deleted, reordered, truncated, rewritten, forged
	Message  string `json:"message"`
}

// AuditVerify is the verdict on the audit log as it is now.
type AuditVerify struct {
	OK       bool           `json:"ok"`
	Size     int64          `json:"size"`
	Root     string         `json:"root"`
	Problems []AuditProblem `json:"problems"`
}

// AuditExportLine is one line of an audit export: an entry, or (last) the
// checkpoint stored latest.
type AuditExportLine struct {
	Entry      *AuditEntry      `json:"entry,omitempty"`
	Checkpoint *AuditCheckpoint `json:"checkpoint,omitempty"`
}

// SecretRequest sets a secret (its value) or removes one (no value).
type SecretRequest struct {
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// SecretList is an environment's secrets, by name only.
type SecretList struct {
	Environment string   `json:"environment"`
	File        string   `json:"file"`                // the encrypted file, next to belay.yaml
	Recipient   string   `json:"recipient,omitempty"` // the environment's age public key; empty before the first secret
	Names       []string `json:"names"`
}

// SecretChange is what a set or remove did; the value is never echoed.
type SecretChange struct {
	Environment string `json:"environment"`
	Name        string `json:"name"`
	Action      string `json:"action"`                // set, replace or remove
	Fingerprint string `json:"fingerprint,omitempty"` // an HMAC of the value, as the audit log keeps it
	File        string `json:"file"`
}

// SecretValue is one secret's value, for its admin.
type SecretValue struct {
	Environment string `json:"environment"`
	Name        string `json:"name"`
	Value       string `json:"value"`
}

// FlagRequest changes a flag's override in an environment:
// POST /api/v1/flags/{env}/{key}/{set|disable|enable|reset}.
type FlagRequest struct {
	Variant string `json:"variant,omitempty"` // set's: the variant to pin
	Reason  string `json:"reason"`            // required: kept in the audit trail
}

// FlagView is a flag in an environment as served, belay.yaml's setting
// and the run-time override on top.
type FlagView struct {
	Environment string `json:"environment"`
	Key         string `json:"key"`
	Kind        string `json:"kind,omitempty"`
	Type        string `json:"type,omitempty"` // boolean, string, integer, float or object
	Description string `json:"description,omitempty"`
	// State and Variant are what the flag serves; Split is the fractional
	// split that chooses the variant instead, if any.
	State    string            `json:"state"`
	Variant  string            `json:"variant,omitempty"`
	Split    spec.Fractional   `json:"split,omitempty"`
	Variants spec.FlagVariants `json:"variants,omitempty"`
	// File is belay.yaml's setting (with the environment's flags: block);
	// null when belay.yaml no longer defines the flag.
	File     *flag.Setting  `json:"file"`
	Override *flag.Override `json:"override,omitempty"`
	// Differences are where the override and belay.yaml disagree.
	Differences []flag.Difference `json:"differences,omitempty"`
	// Problem says why the override does not apply as stored.
	Problem string `json:"problem,omitempty"`
}

// FlagChange is what a flag change did.
type FlagChange struct {
	Action string       `json:"action"` // flag.set, flag.disable, flag.enable or flag.reset
	Before flag.Setting `json:"before"` // as served
	After  flag.Setting `json:"after"`
	Flag   FlagView     `json:"flag"`
}

// DORAReport is GET /api/v1/dora: the four DORA figures of a service (every
// service when Service is empty) in one environment over a window, from
// belay's own records (docs/dora.md defines each). A figure with n = 0 has
// no data: its values are null, never 0.
type DORAReport struct {
	Service     string    `json:"service,omitempty"`
	Environment string    `json:"environment"`
	Since       string    `json:"since"` // the window as asked: 30d, 4w, 12h
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	// DeploymentFrequency counts the release rollouts that ended Succeeded.
	DeploymentFrequency DORAFrequency `json:"deployment_frequency"`
	// LeadTime is from the artifact's build to the rollout's Succeeded.
	LeadTime DORADurations `json:"lead_time"`
	// LeadTimeUnknown counts deployments whose artifact belay has no
	// record of (left out of LeadTime).
	LeadTimeUnknown   int           `json:"lead_time_unknown"`
	ChangeFailureRate DORARate      `json:"change_failure_rate"`
	TimeToRestore     DORADurations `json:"time_to_restore"`
	Unrestored        []int64       `json:"unrestored,omitempty"` // failed deployments that ended Failed: belay did not restore them
}

// DORAFrequency is how often a release reached the environment.
type DORAFrequency struct {
	Deployments int     `json:"deployments"`
	PerDay      float64 `json:"per_day"`
	PerWeek     float64 `json:"per_week"`
}

// DORADurations summarises durations in seconds; null when N is 0.
type DORADurations struct {
	N             int      `json:"n"`
	MedianSeconds *float64 `json:"median_seconds"`
	P90Seconds    *float64 `json:"p90_seconds"`
	Rollouts      []int64  `json:"rollouts,omitempty"` // time to restore's: the rollouts that restored
}

// DORARate is Failed ÷ Changes; Rate is null when Changes is 0.
type DORARate struct {
	Changes  int      `json:"changes"`
	Failed   int      `json:"failed"`
	Rate     *float64 `json:"rate"`
	Rollouts []int64  `json:"rollouts,omitempty"` // the failed deployments
}
