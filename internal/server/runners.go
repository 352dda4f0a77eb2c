package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/belay-dev/belay/internal/hook"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/smoke"
	"github.com/belay-dev/belay/internal/store"
)

// The engine's runners, backed by the server's parts.
type (
	smokeRunner  struct{ s *Server }
	hookRunner   struct{ s *Server }
	verifier     struct{ s *Server }
	stableMarker struct{ s *Server }
)

var (
	_ rollout.SmokeRunner  = smokeRunner{}
	_ rollout.HookRunner   = hookRunner{}
	_ rollout.Verifier     = verifier{}
	_ rollout.StableMarker = stableMarker{}
)

// smokeReport is the evidence of a smoke run: the new version reached
// through the proxy, pinned by the version header, so that it answers even
// while it has no share of the traffic yet.
type smokeReport struct {
	Target string       `json:"target"`
	Report smoke.Report `json:"report"`
}

func (r smokeRunner) Smoke(ctx context.Context, st rollout.State) (json.RawMessage, error) {
	p, err := r.s.Project()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", rollout.ErrActionFailed, err)
	}
	svc := p.Service(st.Service)
	if svc == nil {
		return nil, fmt.Errorf("%w: service %s is no longer in belay.yaml", rollout.ErrActionFailed, st.Service)
	}
	tests := smokeTests(svc)
	if len(tests) == 0 {
		return json.RawMessage(`{"tests":"none defined"}`), nil
	}
	for i := range tests {
		if h := tests[i].HTTP; h != nil {
			h.Header = map[string]string{VersionHeader: st.New.Version}
		}
	}
	base := "http://" + st.Base.Listen
	rep, err := smoke.Run(ctx, &http.Client{Timeout: 30 * time.Second}, base, tests)
	ev, _ := json.Marshal(smokeReport{Target: base + " (" + VersionHeader + ": " + st.New.Version + ")", Report: rep})
	return ev, err
}

func (r hookRunner) Hooks(ctx context.Context, st rollout.State) (json.RawMessage, error) {
	p, err := r.s.Project()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", rollout.ErrActionFailed, err)
	}
	svc := p.Service(st.Service)
	if svc == nil {
		return nil, fmt.Errorf("%w: service %s is no longer in belay.yaml", rollout.ErrActionFailed, st.Service)
	}
	// Hooks run in the directory of the version that serves once the phase
	// is done: the new one, or the one a rollback returns to.
	at := st.New
	if st.Phase == rollout.RollingBack {
		if to := st.RollbackTarget(); to != nil {
			at = *to
		}
	}
	dir, err := r.s.d.Artifacts.Open(ctx, at.Artifact)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s for its hooks: %v", rollout.ErrActionFailed, at.Version, err)
	}
	var results []hook.Result
	for _, h := range phaseHooks(svc, st, dir) {
		res, err := hook.Run(ctx, h)
		results = append(results, res)
		if err != nil {
			ev, _ := json.Marshal(results)
			return ev, err
		}
	}
	ev, _ := json.Marshal(results)
	return ev, nil
}

func (v verifier) Verify(ctx context.Context, st rollout.State) (json.RawMessage, error) {
	digest, err := v.s.d.Artifacts.Verify(ctx, st.New.Version)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", rollout.ErrActionFailed, err)
	}
	if st.New.Artifact != "" && digest != st.New.Artifact {
		return nil, fmt.Errorf("%w: %s now has digest %s, but the release was planned with %s", rollout.ErrActionFailed, st.New.Version, digest, st.New.Artifact)
	}
	return json.Marshal(map[string]string{"version": st.New.Version, "digest": digest, "signature": "verified"})
}

// MarkStable records version as stable and, when it is the release's new
// version, starts the release's rollout in the next environment.
func (m stableMarker) MarkStable(ctx context.Context, st rollout.State, version string) error {
	digest := st.New.Artifact
	if st.Stable != nil && version == st.Stable.Version {
		digest = st.Stable.Artifact
	} else if st.RollbackTo != nil && version == st.RollbackTo.Version {
		digest = st.RollbackTo.Artifact
	}
	id, _ := parseID(st.ID)
	err := m.s.d.Store.SetStable(ctx, store.StableVersion{Service: st.Service, Environment: st.Environment, Version: version, Digest: digest, At: m.s.d.Now().UTC(), RolloutID: id})
	if err != nil || version != st.New.Version {
		return err
	}
	if err := m.s.promoteToNext(ctx, st); err != nil && !errors.Is(err, errAlreadyStarted) {
		m.s.d.Logger.Error("start the next environment", "rollout", st.ID, "err", err)
		_ = m.s.Emit(ctx, eventFor(st, "promotion_blocked", err.Error()))
	}
	return nil
}
