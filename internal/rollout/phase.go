// Package rollout moves a release through one environment — verify, migrate,
// deploy, smoke-test, canary steps, promote or roll back — as a pure
// transition function (Next) run by an Engine that persists each new state
// before it runs the state's idempotent actions.
package rollout

// Phase is where a rollout is.
type Phase string

// Phases, in the order a healthy rollout walks them.
const (
	Pending          Phase = "Pending"
	AwaitingApproval Phase = "AwaitingApproval"
	Verifying        Phase = "Verifying"
	// InfrastructurePlan: the environment's service stack is planned
	// (observed, never applied) and its drift read before anything is
	// deployed; pending changes or unacknowledged drift stop the release
	// (policy block) or are recorded as a warning (warn).
	InfrastructurePlan Phase = "InfrastructurePlan"
	Migrating          Phase = "Migrating" // pre-deploy hooks (migrations) run before any traffic moves
	Deploying          Phase = "Deploying"
	SmokeTesting       Phase = "SmokeTesting"
	Canary             Phase = "Canary" // State.Step says which step
	// Watching: the new version takes all traffic, the previous stable stays
	// started with none, and the rollback triggers keep judging for the
	// configured watch before the version becomes the environment's stable.
	Watching    Phase = "Watching"
	Promoting   Phase = "Promoting"
	Succeeded   Phase = "Succeeded"
	Paused      Phase = "Paused" // State.Pause remembers the phase it paused in
	RollingBack Phase = "RollingBack"
	RolledBack  Phase = "RolledBack"
	Failed      Phase = "Failed"
)

// Terminal reports whether no transition leaves p.
func (p Phase) Terminal() bool {
	return p == Succeeded || p == RolledBack || p == Failed
}

// deployed reports whether the new version may be running in phase p, so
// that leaving the rollout needs a rollback rather than just stopping.
func (p Phase) deployed() bool {
	switch p {
	case Deploying, SmokeTesting, Canary, Watching, Promoting, RollingBack:
		return true
	}
	return false
}
