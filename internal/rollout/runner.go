package rollout

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/hook"
	"github.com/belay-dev/belay/internal/smoke"
	"github.com/belay-dev/belay/internal/target"
)

// ErrActionFailed marks an action's failure as final (the rollout reacts)
// rather than transient (the engine retries at the next tick). Runners wrap
// it, or one of the sentinels permanent lists.
var ErrActionFailed = errors.New("action failed")

// Judge gives the analysis verdict on the current canary step.
type Judge interface {
	Judge(ctx context.Context, s State) (analysis.Verdict, error)
}

// SmokeRunner runs the service's smoke tests against the new version (and
// through the proxy); evidence is kept with the transition.
type SmokeRunner interface {
	Smoke(ctx context.Context, s State) (evidence json.RawMessage, err error)
}

// HookRunner runs the pre-deploy hooks (migrations) of s.Service in s.Environment.
// They may run again after a crash, so they must be idempotent, as migration tools are.
type HookRunner interface {
	Hooks(ctx context.Context, s State) (evidence json.RawMessage, err error)
}

// InfraChecker looks at s.Environment's service stack before a deploy
// (changes nothing): evidence says what it found, with a "summary" the
// transition's reason quotes; an ErrActionFailed error stops the release.
type InfraChecker interface {
	CheckInfra(ctx context.Context, s State) (evidence json.RawMessage, err error)
}

// FlagSwitch makes a rollback's flag change in s.Environment. It is called
// again after a crash, so a change already made must be a no-op. Its error
// never stops the rollback: the engine logs it and moves traffic anyway.
type FlagSwitch interface {
	SetFlag(ctx context.Context, s State, c FlagChange) error
}

// Verifier checks the new version's artifact (digest, signature).
type Verifier interface {
	Verify(ctx context.Context, s State) (evidence json.RawMessage, err error)
}

// Func adapters.
type (
	JudgeFunc  func(ctx context.Context, s State) (analysis.Verdict, error)
	RunnerFunc func(ctx context.Context, s State) (json.RawMessage, error)
)

// Judge calls f.
func (f JudgeFunc) Judge(ctx context.Context, s State) (analysis.Verdict, error) { return f(ctx, s) }

// Smoke calls f.
func (f RunnerFunc) Smoke(ctx context.Context, s State) (json.RawMessage, error) { return f(ctx, s) }

// Hooks calls f.
func (f RunnerFunc) Hooks(ctx context.Context, s State) (json.RawMessage, error) { return f(ctx, s) }

// CheckInfra calls f.
func (f RunnerFunc) CheckInfra(ctx context.Context, s State) (json.RawMessage, error) {
	return f(ctx, s)
}

// Verify calls f.
func (f RunnerFunc) Verify(ctx context.Context, s State) (json.RawMessage, error) { return f(ctx, s) }

var (
	_ Judge        = JudgeFunc(nil)
	_ SmokeRunner  = RunnerFunc(nil)
	_ InfraChecker = RunnerFunc(nil)
	_ HookRunner   = RunnerFunc(nil)
	_ Verifier     = RunnerFunc(nil)
)

// permanent reports whether err is a final failure of an action. An error
// while ctx is ending (belay shutting down) never is: the action reruns.
func permanent(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	for _, sentinel := range []error{
		ErrActionFailed, smoke.ErrFailed, hook.ErrFailed, hook.ErrTimeout,
		target.ErrUnhealthy, target.ErrArtifact, target.ErrInvalid, target.ErrNotFound,
	} {
		if errors.Is(err, sentinel) {
			return true
		}
	}
	return false
}
