// Package orchestrate decides a release: it starts one in its first
// environment, moves it to the next after a promotion (queueing it behind a
// busy environment), rolls a service back when no rollout is in flight, and
// marks versions stable or rejected. Every effect is a rollout transition
// (or a rollout's creation) stored in one transaction with its audit entry,
// events and stable version; the rollout engine runs the rest.
package orchestrate

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/secret"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/target"
)

// Errors callers map to answers (the server to HTTP statuses).
var (
	ErrBadRequest = errors.New("bad request")
	// ErrMalformed is a request that cannot be read at all: a body that is
	// not the expected JSON, an ID that is not a number.
	ErrMalformed  = errors.New("malformed request")
	ErrOutOfOrder = errors.New("environment out of order")
	// ErrForce refuses a rollback target that was rolled back or never
	// stable in the environment, unless the person forces it.
	ErrForce = errors.New("rollback target needs --force")
	// ErrPolicy is an action an environment's protection forbids: approving
	// one's own release, not being a listed approver, or releasing an
	// artifact built from a branch or tag the environment does not accept.
	ErrPolicy = errors.New("not allowed by the environment's protection")
)

// Artifacts is what the orchestrator needs from the artifact store.
type Artifacts interface {
	// Verify checks a version (digests and signature) and returns its
	// digest; the error for a version the store lacks wraps
	// release.ErrNoArtifact.
	Verify(ctx context.Context, version string) (digest string, err error)
	// Open returns a verified, unpacked, read-only tree of the artifact.
	Open(ctx context.Context, ref string) (dir string, err error)
	// Refs verifies an artifact (a version or a sha256: digest) and returns
	// the git refs (refs/heads/…, refs/tags/…) its trusted signed provenance
	// records it was built from; none for an artifact built before belay
	// recorded them.
	Refs(ctx context.Context, ref string) ([]string, error)
}

// Deps are the orchestrator's parts.
type Deps struct {
	Store     store.Store
	Target    target.Target
	Judge     rollout.Judge
	Artifacts Artifacts
	// Project loads belay.yaml as it is now: edits apply to the next release.
	Project func() (*spec.Project, error)
	// Secrets are the environments' secrets; nil: a service that needs one
	// cannot be released.
	Secrets *secret.Store
	// Published hears of the events of every stored change, after commit.
	Published func(ctx context.Context, evs []event.Event)
	Now       func() time.Time
	Logger    *slog.Logger
}

// Orchestrator moves releases along the environments.
type Orchestrator struct {
	d      Deps
	engine *rollout.Engine
	mu     sync.Mutex // serialises the creation of rollouts (releases, rollbacks, the queue)
	// followed is when the pump last looked for rejections to follow; o.mu.
	followed time.Time
	logsMu   sync.Mutex
	logs     map[string]*target.LogForward // by environment: the last log forwarding read (logsFor)
}

// New checks deps and wires the rollout engine.
func New(d Deps) (*Orchestrator, error) {
	if d.Store == nil || d.Target == nil || d.Judge == nil || d.Artifacts == nil || d.Project == nil {
		return nil, errors.New("orchestrate: Store, Target, Judge, Artifacts and Project are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Published == nil {
		d.Published = func(context.Context, []event.Event) {}
	}
	o := &Orchestrator{d: d}
	rs := &rolloutStore{o: o}
	if f, ok := d.Judge.(interface{ Forget(id string) }); ok {
		rs.finished = f.Forget // a finished rollout's analysis state is no longer needed
	}
	eng, err := rollout.NewEngine(rollout.Deps{
		Store: rs, Target: secretTarget{d.Target, o}, Judge: d.Judge,
		Smoke: smokeRunner{o}, Hooks: hookRunner{o}, Verifier: verifier{o}, Flags: flagSwitch{o}, Infra: infraChecker{o},
		BeforeTick: o.pump, Now: d.Now, Logger: d.Logger,
	})
	if err != nil {
		return nil, err
	}
	o.engine = eng
	return o, nil
}

// Run drives every rollout and the queue until ctx ends.
func (o *Orchestrator) Run(ctx context.Context, every time.Duration) error {
	return o.engine.Run(ctx, every)
}

// Tick starts what the queue allows and drives every rollout as far as it
// can go now (tests drive time by hand).
func (o *Orchestrator) Tick(ctx context.Context) error {
	o.pump(ctx)
	return o.engine.Tick(ctx)
}

// Command applies a person's command to a rollout.
func (o *Orchestrator) Command(ctx context.Context, id string, c rollout.Command) (rollout.State, error) {
	if c.Actor == "" {
		return rollout.State{}, errorf(ErrBadRequest, "a command needs an actor")
	}
	return o.engine.Command(ctx, id, c)
}
