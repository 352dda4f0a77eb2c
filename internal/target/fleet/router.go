package fleet

import (
	"context"
	"fmt"

	"github.com/belay-dev/belay/internal/target"
)

// Router is the server's target: environments with hosts go to their
// fleet, environments with target: kubernetes to their cluster's target,
// the others to the local agent.
type Router struct {
	Fleets map[string]*Fleet // by environment
	// Kubernetes are the targets of environments with target: kubernetes,
	// by environment; they have no built-in counters (analysis there reads
	// Prometheus) and may report drift (target.Drifter).
	Kubernetes map[string]target.Target
	Local      Agent
}

var (
	_ target.Target  = (*Router)(nil)
	_ target.Metrics = (*Router)(nil)
	_ target.Hosts   = (*Router)(nil)
	_ target.Drifter = (*Router)(nil)
)

func (r *Router) pick(env string) target.Target {
	if k, ok := r.Kubernetes[env]; ok {
		return k
	}
	if f, ok := r.Fleets[env]; ok {
		return f
	}
	return r.Local
}

// Apply applies want on its environment's target.
func (r *Router) Apply(ctx context.Context, want target.Desired) error {
	return r.pick(want.Environment).Apply(ctx, want)
}

// Observe observes on env's target.
func (r *Router) Observe(ctx context.Context, env, service string) (target.Observed, error) {
	return r.pick(env).Observe(ctx, env, service)
}

// Counters reads env's target's counters.
func (r *Router) Counters(ctx context.Context, env, service string) ([]target.Counters, error) {
	m, ok := r.pick(env).(target.Metrics)
	if !ok {
		return nil, fmt.Errorf("environment %s runs on a target with no built-in counters (target: kubernetes): "+
			"give %s's analysis source: prometheus, with PromQL templates selecting the version label its pods carry", env, service)
	}
	return m.Counters(ctx, env, service)
}

// Drift reports what env's target says was changed outside belay; targets
// that cannot tell (the local agent, fleets) report none.
func (r *Router) Drift(ctx context.Context, env, service string) ([]target.Drift, error) {
	if d, ok := r.pick(env).(target.Drifter); ok {
		return d.Drift(ctx, env, service)
	}
	return nil, nil
}

// Unknown checks env's hosts (none for the local agent).
func (r *Router) Unknown(ctx context.Context, env string) []target.HostState {
	if f, ok := r.Fleets[env]; ok {
		return f.Unknown(ctx, env)
	}
	return nil
}

// String names the targets, for logs.
func (r *Router) String() string {
	return fmt.Sprintf("local agent, %d fleet(s) and %d kubernetes environment(s)", len(r.Fleets), len(r.Kubernetes))
}
