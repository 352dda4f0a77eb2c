package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/belay-dev/belay/internal/hook"
	"github.com/belay-dev/belay/internal/smoke"
)

// ExecHooks runs a rollout's pre-deploy hooks with package hook.
type ExecHooks struct {
	// Specs gives the hooks of s.Service in s.Environment, in order.
	Specs func(s State) []hook.Spec
}

var _ HookRunner = ExecHooks{}

// Hooks runs the hooks in order, stopping at the first failure; the results
// are the evidence.
func (h ExecHooks) Hooks(ctx context.Context, s State) (json.RawMessage, error) {
	res, err := hook.RunAll(ctx, h.Specs(s))
	b, merr := json.Marshal(res)
	if merr != nil {
		return nil, merr
	}
	return b, err
}

// HTTPSmoke runs a rollout's smoke tests with package smoke against every
// base URL the rollout's new version answers on (directly, and through the proxy).
type HTTPSmoke struct {
	Client *http.Client
	Tests  func(s State) []smoke.Test
	// URLs gives the base URLs to test; an error is transient (retried).
	URLs func(ctx context.Context, s State) ([]string, error)
}

var _ SmokeRunner = HTTPSmoke{}

// Smoke runs the tests against each URL in turn and stops at the first
// failing URL; the reports are the evidence.
func (h HTTPSmoke) Smoke(ctx context.Context, s State) (json.RawMessage, error) {
	urls, err := h.URLs(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("smoke tests of %s: %w", s.New.Version, err)
	}
	tests := h.Tests(s)
	if len(tests) > 0 && len(urls) == 0 {
		return nil, fmt.Errorf("%w: smoke tests of %s: the target reports no address for it", ErrActionFailed, s.New.Version)
	}
	var reports []smoke.Report
	for _, u := range urls {
		rep, err := smoke.Run(ctx, h.Client, u, tests)
		reports = append(reports, rep)
		if err != nil {
			b, _ := json.Marshal(reports)
			return b, err
		}
	}
	b, err := json.Marshal(reports)
	return b, err
}
