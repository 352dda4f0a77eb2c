package rollout

import (
	"errors"
	"fmt"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/target"
)

// ErrConfig marks a rollout that cannot start as configured.
var ErrConfig = errors.New("invalid rollout")

// Strategy is how traffic moves to the new version.
type Strategy string

// Strategies; Staged is the seed's word for Canary.
const (
	AllAtOnce      Strategy = "all_at_once"
	CanaryStrategy Strategy = "canary"
	Staged         Strategy = "staged"
)

// ContractMigration is the migration type that makes the previous stable
// unable to run against the database: never rolled back past automatically.
const ContractMigration = "contract"

// InconclusivePolicy says what an inconclusive verdict does; the analysis
// owns the enum, so a verdict's policy needs no mapping.
type InconclusivePolicy = analysis.Policy

// Inconclusive policies.
const (
	Extend   = analysis.PolicyExtend   // keep the step until ExtendLimit past its minimum, then pause
	PauseOn  = analysis.PolicyPause    // pause for a human
	Rollback = analysis.PolicyRollback // treat as a failure
)

// Step is one canary step: the new version's share of traffic, held at
// least MinDuration (counted from when the weights were in force). A shadow
// step (Shadow > 0) gives the new version no traffic but copies of Shadow %
// of the requests stable answered; a replay step (Replay set) gives it
// requests sampled in the environment Replay names, replayed against it and
// stable. Either is judged on the pairs of answers, and comes before the
// first weighted step.
type Step struct {
	Weight      float64       `json:"weight"`
	Shadow      float64       `json:"shadow,omitempty"`
	Replay      string        `json:"replay,omitempty"`
	MinDuration time.Duration `json:"min_duration"`
}

// Paired reports whether the step is judged on pairs (shadow or replay).
func (s Step) Paired() bool { return s.Shadow > 0 || s.Replay != "" }

// String says what the step gives the new version.
func (s Step) String() string {
	switch {
	case s.Replay != "":
		return "replay of " + s.Replay + "'s requests"
	case s.Shadow > 0:
		return fmt.Sprintf("shadow of %g%% of requests", s.Shadow)
	}
	return fmt.Sprintf("%g%%", s.Weight)
}

// DefaultSteps are the canary steps used when none are configured.
var DefaultSteps = []Step{{Weight: 5, MinDuration: time.Minute}, {Weight: 25, MinDuration: time.Minute}, {Weight: 50, MinDuration: time.Minute}, {Weight: 100, MinDuration: time.Minute}}

// Config is what a rollout is created from; the caller maps belay.yaml and
// the release plan onto it.
type Config struct {
	ID          string `json:"id"`
	Release     string `json:"release"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	// New is the version rolled out; its Weight is ignored.
	New target.Version `json:"new"`
	// Stable is the previous stable version, nil for a service's first release.
	Stable *target.Version `json:"stable,omitempty"`
	// Base carries Listen, Sticky, VersionHeader and DrainTimeout for every Desired.
	Base            target.Desired `json:"base"`
	Strategy        Strategy       `json:"strategy"`
	Steps           []Step         `json:"steps"`
	RequireApproval bool           `json:"require_approval,omitempty"`
	// WaitTimer holds an approved rollout in AwaitingApproval until this
	// long after it began waiting (protection.wait_timer).
	WaitTimer     time.Duration `json:"wait_timer,omitempty"`
	MigrationType string        `json:"migration_type,omitempty"` // none, expand_only, contract
	Hooks         bool          `json:"hooks,omitempty"`          // pre-deploy hooks exist: run Migrating
	// InfraCheck: the environment's service stack names servers belay
	// provisions; run InfrastructurePlan before deploying.
	InfraCheck bool `json:"infra_check,omitempty"`
	// AdoptDrift names who adopted, for this release, what the target
	// reports changed outside belay (belay release --adopt): the
	// InfrastructurePlan phase then lets drift through, audited, instead
	// of stopping the rollout ("": drift stops it).
	AdoptDrift   string             `json:"adopt_drift,omitempty"`
	PostHooks    bool               `json:"post_hooks,omitempty"` // post_promote or post_rollback hooks exist
	Inconclusive InconclusivePolicy `json:"inconclusive,omitempty"`
	ExtendLimit  time.Duration      `json:"extend_limit,omitempty"` // for Extend; default: the step's MinDuration
	Owner        string             `json:"owner,omitempty"`
	// Watch is how long the new version takes all traffic, judged by the
	// rollback triggers, before it becomes the environment's stable (0: no watch).
	Watch time.Duration `json:"watch,omitempty"`
	// KeepPrevious keeps the previous stable started, with no traffic,
	// during the watch, so that a rollback is a weight change.
	KeepPrevious bool `json:"keep_previous,omitempty"`
	// Kind is KindRelease (a release moving through environments) or
	// KindRollback (a rollback with no release in flight).
	Kind Kind `json:"kind,omitempty"`
	// Supersede: when this release must wait for a busy environment, it
	// takes the place of older releases of the service waiting there.
	Supersede bool `json:"supersede,omitempty"`
	// Mirror is how a shadow or replay step's copies are made (methods,
	// bounds, replay rate); its Version, Share and Replay are set per step.
	Mirror *target.Shadow `json:"mirror,omitempty"`
	// RollbackSteps are belay.yaml's rollback_action in order: flag
	// changes, and the return of traffic (Deploy) that every rollback makes.
	// Empty: traffic only.
	RollbackSteps []RollbackStep `json:"rollback_steps,omitempty"`
}

// RollbackStep is one rollback action: a flag to disable or enable, or
// the return of traffic to the rollback target.
type RollbackStep struct {
	Deploy bool        `json:"deploy,omitempty"`
	Flag   *FlagChange `json:"flag,omitempty"`
}

// FlagChange turns a flag off (disable_flag) or on (enable_flag) in the
// rollout's environment.
type FlagChange struct {
	Flag   string `json:"flag"`
	Enable bool   `json:"enable,omitempty"`
}

func (c FlagChange) String() string {
	if c.Enable {
		return "enable_flag " + c.Flag
	}
	return "disable_flag " + c.Flag
}

// Kind says what a rollout is for.
type Kind string

// Kinds of rollout.
const (
	KindRelease  Kind = ""         // a release in one environment
	KindRollback Kind = "rollback" // a rollback with no release in flight
)

// MaxWatch is the longest watch belay accepts.
const MaxWatch = 24 * time.Hour

// Override is a manual decision: who, why, when.
type Override struct {
	Actor  string    `json:"actor"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Pause is why and from where a rollout paused.
type Pause struct {
	From Phase `json:"from"`
	Override
	// NeedsHuman is set when belay paused itself because it must not decide
	// (a contract migration forbids an automatic rollback, an inconclusive verdict).
	NeedsHuman bool `json:"needs_human,omitempty"`
}

// State is a rollout, as persisted; every transition increments Seq.
type State struct {
	Config
	Phase        Phase     `json:"phase"`
	PhaseEntered time.Time `json:"phase_entered"`
	Created      time.Time `json:"created"`
	Step         int       `json:"step"`
	// StepStarted is when the current step's weights were in force (zero until then).
	StepStarted time.Time `json:"step_started,omitzero"`
	// WatchStarted is when the watch's weights were in force (zero until then).
	WatchStarted time.Time         `json:"watch_started,omitzero"`
	Pause        *Pause            `json:"pause,omitempty"`
	Approval     *Override         `json:"approval,omitempty"`
	LastVerdict  *analysis.Verdict `json:"last_verdict,omitempty"`
	// Migrated is set once pre-deploy hooks succeeded: with a contract
	// migration, the previous stable can no longer be returned to automatically.
	Migrated bool `json:"migrated,omitempty"`
	// RollbackTo is the version a rollback returns to (nil: Stable).
	RollbackTo *target.Version `json:"rollback_to,omitempty"`
	Reason     string          `json:"reason,omitempty"` // why the last transition happened
	// Held names the target's hosts that could not be reached: the
	// rollout holds (no analysis, no promotion, no rollback for that
	// alone) until they answer again.
	Held []string `json:"held,omitempty"`
	// HeldSince is when the current hold began; the step's and the watch's
	// clocks move forward by the hold's length when it ends, so that time
	// held does not count towards a step's minimum duration or the watch.
	HeldSince time.Time `json:"held_since,omitzero"`
	// Pending are the actions of the last transition not yet known done; the
	// engine (re)runs them until a Done observation clears them.
	Pending []Action `json:"pending,omitempty"`
	Seq     int64    `json:"seq"`
}

// Active reports whether the engine still has work for s: not terminal, or
// terminal with actions (its events) not yet known done.
func (s State) Active() bool { return !s.Phase.Terminal() || len(s.Pending) > 0 }

// New validates cfg and returns the rollout's first state.
func New(cfg Config, now time.Time) (State, error) {
	switch {
	case cfg.ID == "" || cfg.Service == "" || cfg.Environment == "":
		return State{}, fmt.Errorf("%w: id, service and environment are required", ErrConfig)
	case cfg.New.Version == "":
		return State{}, fmt.Errorf("%w: %s: the new version is required", ErrConfig, cfg.ID)
	case cfg.Stable != nil && cfg.Stable.Version == cfg.New.Version:
		return State{}, fmt.Errorf("%w: %s: version %s is already stable in %s", ErrConfig, cfg.ID, cfg.New.Version, cfg.Environment)
	case cfg.Watch < 0 || cfg.Watch > MaxWatch:
		return State{}, fmt.Errorf("%w: %s: watch %s must be between 0 and %s", ErrConfig, cfg.ID, cfg.Watch, MaxWatch)
	}
	steps, err := normalSteps(cfg.Strategy, cfg.Steps, cfg.Stable != nil)
	if err != nil {
		return State{}, fmt.Errorf("%w: %s: %w", ErrConfig, cfg.ID, err)
	}
	cfg.Steps = steps
	switch cfg.Inconclusive {
	case "":
		cfg.Inconclusive = Extend
	case Extend, PauseOn, Rollback:
	default:
		return State{}, fmt.Errorf("%w: %s: inconclusive policy %q: use extend, pause or rollback", ErrConfig, cfg.ID, cfg.Inconclusive)
	}
	now = now.UTC()
	return State{Config: cfg, Phase: Pending, PhaseEntered: now, Created: now}, nil
}

// normalSteps checks steps: shadow and replay steps first, then weights
// rising, within (0,100], ending at 100. Without a stable version (a
// first release) there is nothing to pair answers with, so shadow and
// replay steps are left out.
func normalSteps(st Strategy, steps []Step, stable bool) ([]Step, error) {
	var paired []Step
	for i, s := range steps {
		if !s.Paired() {
			break
		}
		if s.Weight != 0 || s.Shadow < 0 || s.Shadow > 100 || s.Shadow > 0 && s.Replay != "" {
			return nil, fmt.Errorf("step %d: a shadow step takes a share in (0,100] and no weight, a replay step an environment", i+1)
		}
		paired = append(paired, s)
	}
	steps = steps[len(paired):]
	if !stable {
		paired = nil
	}
	switch st {
	case AllAtOnce:
		var d time.Duration
		if len(steps) > 0 {
			d = steps[len(steps)-1].MinDuration
		}
		return append(paired, Step{Weight: 100, MinDuration: d}), nil
	case CanaryStrategy, Staged:
	default:
		return nil, fmt.Errorf("strategy %q: use all_at_once, canary or staged", st)
	}
	if len(steps) == 0 {
		steps = DefaultSteps
	}
	out := append(paired, steps...)
	prev := 0.0
	for i, s := range out[len(paired):] {
		if s.Paired() {
			return nil, fmt.Errorf("step %d: a shadow or replay step must come before the first weighted step", len(paired)+i+1)
		}
		if s.Weight <= prev || s.Weight > 100 {
			return nil, fmt.Errorf("step %d: weight %g must be above %g and at most 100", len(paired)+i+1, s.Weight, prev)
		}
		prev = s.Weight
	}
	if prev != 100 {
		out = append(out, Step{Weight: 100, MinDuration: out[len(out)-1].MinDuration})
	}
	return out, nil
}

// contractLocked reports whether an automatic rollback is forbidden.
func (s State) contractLocked() bool {
	return s.Migrated && s.MigrationType == ContractMigration
}
