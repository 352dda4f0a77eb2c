package orchestrate

import (
	"context"
	"fmt"
	"maps"

	"github.com/belay-dev/belay/internal/infra"

	"github.com/belay-dev/belay/internal/target"
)

// Secrets: a rollout's state names the secrets a version gets (target.Run
// .Secrets); their values are read from the environment's secrets file only
// at the moment they are handed to the target or a hook, so that no store
// row, event or answer ever holds one.

// secretValues are the named secrets of env.
func (o *Orchestrator) secretValues(env string, names []string) (map[string]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if o.d.Secrets == nil {
		return nil, fmt.Errorf("%s needs secrets %v, but this server keeps none", env, names)
	}
	return o.d.Secrets.Values(env, names)
}

// checkSecrets refuses a rollout in env whose version needs secrets env
// does not have, before anything starts.
func (o *Orchestrator) checkSecrets(env string, v target.Version) error {
	if _, err := o.secretValues(env, v.Run.Secrets); err != nil {
		return errorf(ErrBadRequest, "%s in %s: %v", v.Version, env, o.redact(err))
	}
	return nil
}

// redact hides known secret values in err's message.
func (o *Orchestrator) redact(err error) error {
	if o.d.Secrets == nil {
		return err
	}
	return o.d.Secrets.Redactor.Error(err)
}

// redactJSON hides known secret values in evidence.
func (o *Orchestrator) redactJSON(b []byte) []byte {
	if o.d.Secrets == nil {
		return b
	}
	return o.d.Secrets.Redactor.Bytes(b)
}

// secretTarget resolves the secrets of every version in a desired state
// just before it goes to the target, and redacts the target's errors.
type secretTarget struct {
	target.Target
	o *Orchestrator
}

func (t secretTarget) Apply(ctx context.Context, want target.Desired) error {
	want.Versions = append([]target.Version(nil), want.Versions...)
	for i := range want.Versions {
		v := &want.Versions[i]
		vals, err := t.o.secretValues(want.Environment, v.Run.Secrets)
		if err != nil {
			// Retried, not final: a rollback must not fail for a secrets
			// file someone is fixing, and nothing is applied meanwhile.
			return fmt.Errorf("secrets of %s: %w", v.Version, t.o.redact(err))
		}
		if vals != nil {
			v.Run.SecretEnv = maps.Clone(vals)
		}
	}
	want.Logs, want.KeepLogs = t.o.logsFor(want.Environment)
	err := t.Target.Apply(ctx, want)
	if err != nil {
		err = t.o.redact(err)
	}
	return err
}

// logsFor is env's log forwarding for a desired state. Shipping logs never
// holds a deployment or a rollback: when belay.yaml or the token's secret
// cannot be read now, the last setting that could be goes, or, with none
// read since the server started, keep asks the target to keep the one in
// force; the server's log says why.
func (o *Orchestrator) logsFor(env string) (logs *target.LogForward, keep bool) {
	o.logsMu.Lock()
	defer o.logsMu.Unlock()
	logs, err := o.logForwarding(env)
	if err != nil {
		last, ok := o.logs[env]
		o.d.Logger.Warn("log forwarding not read; the last setting read stays in force", "environment", env,
			"last", ok, "err", o.redact(err))
		return last, !ok
	}
	if o.logs == nil {
		o.logs = map[string]*target.LogForward{}
	}
	o.logs[env] = logs
	return logs, false
}

// logForwarding is env's log forwarding as belay.yaml says now, its token
// resolved: nil when env forwards no logs. Like SecretEnv it is filled in
// only on the way to the target, so the token is in no rollout state.
func (o *Orchestrator) logForwarding(env string) (*target.LogForward, error) {
	p, err := o.d.Project()
	if err != nil {
		return nil, err
	}
	lf, err := infra.LogForwardingOf(p, env)
	if err != nil || lf == nil {
		return nil, err
	}
	out := &target.LogForward{URL: lf.URL, TokenSecret: lf.TokenSecret}
	if lf.TokenSecret != "" {
		vals, err := o.secretValues(env, []string{lf.TokenSecret})
		if err != nil {
			return nil, err
		}
		out.Token = vals[lf.TokenSecret]
	}
	return out, nil
}

// Unknown passes the target's hosts on (target.Hosts), so that a rollout
// holds while one is unknown; a target without hosts has none unknown.
func (t secretTarget) Unknown(ctx context.Context, env string) []target.HostState {
	if h, ok := t.Target.(target.Hosts); ok {
		return h.Unknown(ctx, env)
	}
	return nil
}
