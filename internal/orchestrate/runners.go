package orchestrate

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/hook"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/smoke"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target"
)

// The engine's runners, backed by the server's parts.
type (
	smokeRunner struct{ s *Orchestrator }
	hookRunner  struct{ s *Orchestrator }
	verifier    struct{ s *Orchestrator }
)

var (
	_ rollout.SmokeRunner = smokeRunner{}
	_ rollout.HookRunner  = hookRunner{}
	_ rollout.Verifier    = verifier{}
)

// smokeReport is the evidence of a smoke run: the new version reached
// through the proxy, pinned by the version header, so that it answers even
// while it has no share of the traffic yet.
type smokeReport struct {
	Target string       `json:"target"`
	Report smoke.Report `json:"report"`
}

// service is belay.yaml's service as it is now; its absence fails the action.
func (o *Orchestrator) service(name string) (*spec.Service, error) {
	p, err := o.d.Project()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", rollout.ErrActionFailed, err)
	}
	svc := p.Service(name)
	if svc == nil {
		return nil, fmt.Errorf("%w: service %s is no longer in belay.yaml", rollout.ErrActionFailed, name)
	}
	return svc, nil
}

func (r smokeRunner) Smoke(ctx context.Context, st rollout.State) (json.RawMessage, error) {
	svc, err := r.s.service(st.Service)
	if err != nil {
		return nil, err
	}
	tests := smokeTests(svc)
	if len(tests) == 0 {
		return json.RawMessage(`{"tests":"none defined"}`), nil
	}
	for i := range tests {
		if h := tests[i].HTTP; h != nil {
			h.Header = map[string]string{api.VersionHeader: st.New.Version}
		}
	}
	bases := []string{"http://" + st.Base.Listen}
	// An environment spread over hosts is tested on each host's proxy, once
	// every host answers: probing first brings back a host that was unknown
	// (a host is marked unknown by a failed read, and only a probe clears it).
	if hs, ok := r.s.d.Target.(target.Hosts); ok {
		if down := hs.Unknown(ctx, st.Environment); len(down) > 0 {
			return nil, fmt.Errorf("smoke tests: host %s (%s) is unknown: %s", down[0].Name, down[0].Address, down[0].Error) // retried
		}
	}
	o, err := r.s.d.Target.Observe(ctx, st.Environment, st.Service)
	if p, perr := r.s.d.Project(); err != nil && perr == nil && p.Environment(st.Environment) != nil && len(p.Environment(st.Environment).Hosts) > 0 {
		return nil, fmt.Errorf("smoke tests: where the hosts of %s listen: %w", st.Environment, err) // retried, never the local address
	}
	if err == nil && len(o.Hosts) > 0 {
		bases = bases[:0]
		for _, h := range o.Hosts {
			if h.Unknown || h.Listen == "" {
				return nil, fmt.Errorf("smoke tests: host %s (%s) is unknown: %s", h.Name, h.Address, h.Error) // retried
			}
			bases = append(bases, "http://"+h.Listen)
		}
	}
	var reports []smokeReport
	for _, base := range bases {
		var rep smoke.Report
		rep, err = smoke.Run(ctx, &http.Client{Timeout: 30 * time.Second}, base, tests)
		reports = append(reports, smokeReport{Target: base + " (" + api.VersionHeader + ": " + st.New.Version + ")", Report: rep})
		if err != nil {
			break
		}
	}
	var ev []byte
	if len(reports) == 1 {
		ev, _ = json.Marshal(reports[0])
	} else {
		ev, _ = json.Marshal(reports)
	}
	if err != nil {
		err = r.s.redact(err)
	}
	return r.s.redactJSON(ev), err
}

func (r hookRunner) Hooks(ctx context.Context, st rollout.State) (json.RawMessage, error) {
	svc, err := r.s.service(st.Service)
	if err != nil {
		return nil, err
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
	specs := phaseHooks(svc, st, dir)
	var secrets map[string]string
	if len(specs) > 0 {
		secrets, err = r.s.secretValues(st.Environment, svc.Run.Secrets)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets of the %s hooks: %w", st.Service, r.s.redact(err)) // retried: see secretTarget
	}
	var results []hook.Result
	for _, h := range specs {
		if len(secrets) > 0 {
			h.Env = maps.Clone(h.Env)
			maps.Copy(h.Env, secrets)
		}
		res, err := hook.Run(ctx, h)
		results = append(results, res)
		if err != nil {
			ev, _ := json.Marshal(results)
			return r.s.redactJSON(ev), r.s.redact(err)
		}
	}
	ev, _ := json.Marshal(results)
	return r.s.redactJSON(ev), nil
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
