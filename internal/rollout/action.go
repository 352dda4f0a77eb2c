package rollout

import (
	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/target"
)

// ActionKind is what an Action does.
type ActionKind string

// Actions; every one is idempotent, so re-running a batch after a crash is
// safe — except hooks, which run at least once and must tolerate a re-run.
const (
	StartVersion ActionKind = "start_version" // apply Desired: the new version joins at weight 0 (or 100 when alone)
	SetWeights   ActionKind = "set_weights"   // apply Desired: a canary step's weights
	StopVersion  ActionKind = "stop_version"  // apply Desired without the version (Desired.Versions may be empty)
	Verify       ActionKind = "verify"        // verify the new version's artifact
	RunHooks     ActionKind = "run_hooks"     // the phase's hooks: pre-deploy (Migrating), post_promote (Promoting), post_rollback (RollingBack)
	RunSmoke     ActionKind = "run_smoke"     // smoke tests against the new version
	CheckInfra   ActionKind = "check_infra"   // plan the environment's service stack and read its drift; changes nothing
	SetFlag      ActionKind = "set_flag"      // a rollback's flag change: never fails the rollback
	Analyze      ActionKind = "analyze"       // ask the Judge; read-only, never persisted
	// Emit is an event of the transition; Record moves it into the
	// Transition, so it is stored with the state change, never run.
	Emit ActionKind = "emit"
)

// Action is a description of a side effect the engine runs.
type Action struct {
	Kind    ActionKind      `json:"kind"`
	Desired *target.Desired `json:"desired,omitempty"`
	Flag    *FlagChange     `json:"flag,omitempty"`
	Event   *event.Event    `json:"event,omitempty"`
}
