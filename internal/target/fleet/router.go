package fleet

import (
	"context"
	"fmt"

	"github.com/belay-dev/belay/internal/target"
)

// Router is the server's target: environments with hosts go to their
// fleet, the others to the local agent.
type Router struct {
	Fleets map[string]*Fleet // by environment
	Local  Agent
}

var (
	_ target.Target  = (*Router)(nil)
	_ target.Metrics = (*Router)(nil)
	_ target.Hosts   = (*Router)(nil)
)

func (r *Router) pick(env string) Agent {
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
	return r.pick(env).Counters(ctx, env, service)
}

// Unknown checks env's hosts (none for the local agent).
func (r *Router) Unknown(ctx context.Context, env string) []target.HostState {
	if f, ok := r.Fleets[env]; ok {
		return f.Unknown(ctx, env)
	}
	return nil
}

// String names the targets, for logs.
func (r *Router) String() string { return fmt.Sprintf("local agent and %d fleet(s)", len(r.Fleets)) }
