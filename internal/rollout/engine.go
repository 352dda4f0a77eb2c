package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/target"
)

// maxRounds bounds the transitions one rollout makes in one tick, so a bug
// cannot spin the engine; healthy rollouts stop earlier, waiting on time.
const maxRounds = 64

// Deps are what an Engine runs actions with. Store, Target and Judge are
// required; without Smoke or Verifier those actions succeed at once;
// without Hooks, a rollout with hooks fails (it must not skip a migration).
// Events, stable versions and rejections are not actions: they are part of
// the Transition the Store writes with the state.
type Deps struct {
	Store    Store
	Target   target.Target
	Judge    Judge
	Smoke    SmokeRunner
	Hooks    HookRunner
	Verifier Verifier
	Flags    FlagSwitch // nil: a rollback's flag changes are logged and skipped
	// Infra checks the environment's service stack (InfrastructurePlan);
	// nil: a rollout that needs the check fails (it must not skip it).
	Infra InfraChecker
	// BeforeTick, if set, runs at the start of every tick of Run (the
	// orchestrator starts queued rollouts there).
	BeforeTick func(ctx context.Context)
	Now        func() time.Time
	Logger     *slog.Logger
}

// Engine drives every active rollout: it feeds observations into Next,
// persists each transition before running its actions, and resumes whatever
// was in flight after a restart (actions are idempotent and simply rerun).
type Engine struct {
	d    Deps
	mu   sync.Mutex
	busy map[string]bool
}

// NewEngine checks deps and returns an engine.
func NewEngine(d Deps) (*Engine, error) {
	if d.Store == nil || d.Target == nil || d.Judge == nil {
		return nil, errors.New("rollout engine: Store, Target and Judge are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{d: d, busy: map[string]bool{}}, nil
}

// Run ticks every interval until ctx ends. A rollout busy with a slow action
// (a migration, smoke tests) does not hold up the others.
func (e *Engine) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		if e.d.BeforeTick != nil {
			e.d.BeforeTick(ctx)
		}
		if err := e.tick(ctx, &wg); err != nil {
			e.d.Logger.Error("rollout tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick drives every active rollout as far as it can go now and waits for
// them; it returns the first store error.
func (e *Engine) Tick(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	err := e.tickErr(ctx, &wg, errs)
	wg.Wait()
	select {
	case derr := <-errs:
		return derr
	default:
	}
	return err
}

func (e *Engine) tick(ctx context.Context, wg *sync.WaitGroup) error {
	return e.tickErr(ctx, wg, nil)
}

func (e *Engine) tickErr(ctx context.Context, wg *sync.WaitGroup, errs chan error) error {
	states, err := e.d.Store.Active(ctx)
	if err != nil {
		return fmt.Errorf("load active rollouts: %w", err)
	}
	for _, s := range states {
		if !e.claim(s.ID) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer e.release(s.ID)
			if err := e.drive(ctx, s); err != nil {
				e.d.Logger.Error("rollout", "rollout", s.ID, "err", err)
				select {
				case errs <- err:
				default:
				}
			}
		}()
	}
	return nil
}

func (e *Engine) claim(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.busy[id] {
		return false
	}
	e.busy[id] = true
	return true
}

func (e *Engine) release(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.busy, id)
}

// Command applies a person's command to rollout id and persists it; the
// actions it asks for run at the next tick. It retries when the engine moved
// the rollout meanwhile, and returns the new state.
func (e *Engine) Command(ctx context.Context, id string, c Command) (State, error) {
	for range 8 {
		s, err := e.d.Store.Get(ctx, id)
		if err != nil {
			return State{}, err
		}
		if err := Validate(s, c); err != nil {
			return s, err
		}
		obs := Observation{Kind: Manual, Command: &c}
		now := e.d.Now()
		next, _ := Next(s, obs, now)
		next, t := Record(s, next, obs, now)
		err = e.d.Store.Transition(ctx, id, s.Seq, next, t)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return s, err
		}
		e.d.Logger.Info("rollout override", "rollout", id, "command", c.Kind, "actor", c.Actor, "phase", next.Phase)
		return next, nil
	}
	return State{}, fmt.Errorf("%w: rollout %s kept changing; try again", ErrConflict, id)
}

// drive moves one rollout until it has to wait. Store errors other than a
// conflict end it with the error; action errors are retried next tick.
func (e *Engine) drive(ctx context.Context, s State) error {
	log := e.d.Logger.With("rollout", s.ID, "service", s.Service, "environment", s.Environment)
	for range maxRounds {
		obs := tickObs()
		if len(s.Pending) > 0 {
			o, err := e.run(ctx, s, s.Pending)
			if err != nil {
				log.Warn("action will be retried", "phase", s.Phase, "err", err)
				return nil
			}
			obs = o
		} else if o, wait := e.hold(ctx, s); o != nil {
			obs = *o
		} else if wait {
			return nil
		}
		now := e.d.Now()
		next, acts := Next(s, obs, now)
		if next.Seq == s.Seq {
			if len(acts) == 0 {
				return nil
			}
			// Read-only actions (Analyze): their result is the observation.
			o, err := e.run(ctx, s, acts)
			if err != nil {
				log.Warn("analysis will be retried", "err", err)
				return nil
			}
			// A host lost while the analysis read its metrics makes the
			// verdict one on part of the traffic: it is not acted on.
			if h, wait := e.hold(ctx, s); h != nil {
				o = *h
			} else if wait {
				return nil
			}
			obs, now = o, e.d.Now()
			if next, _ = Next(s, obs, now); next.Seq == s.Seq {
				return nil
			}
		}
		next, t := Record(s, next, obs, now)
		err := e.d.Store.Transition(ctx, s.ID, s.Seq, next, t)
		if errors.Is(err, ErrConflict) {
			return nil // someone (a command) moved it; the next tick reloads
		}
		if err != nil {
			return fmt.Errorf("persist %s → %s: %w", s.Phase, next.Phase, err)
		}
		log.Info("transition", "from", s.Phase, "to", next.Phase, "step", next.Step, "seq", next.Seq, "reason", next.Reason)
		s = next
		if obs.Kind == Held && len(obs.Hosts) > 0 {
			return nil // holds until a later tick finds the hosts again
		}
	}
	return nil
}

// hold checks the target's hosts for a rollout that holds while some are
// unknown (target.Hosts): it returns a Held observation when the unknown
// hosts changed since the state recorded them, and whether the rollout
// must wait (some are unknown).
func (e *Engine) hold(ctx context.Context, s State) (*Observation, bool) {
	h, ok := e.d.Target.(target.Hosts)
	if !ok || !s.Holding() {
		return nil, false
	}
	unknown := h.Unknown(ctx, s.Environment)
	names := make([]string, 0, len(unknown))
	for _, u := range unknown {
		names = append(names, u.Name)
	}
	if slices.Equal(names, s.Held) || len(names) == 0 && len(s.Held) == 0 {
		return nil, len(names) > 0
	}
	var ev json.RawMessage
	if len(unknown) > 0 {
		ev, _ = json.Marshal(map[string]any{"unknown_hosts": unknown})
	}
	e.d.Logger.Warn("rollout hosts", "rollout", s.ID, "environment", s.Environment, "unknown", names)
	return &Observation{Kind: Held, Seq: s.Seq, Hosts: names, Evidence: ev}, len(names) > 0
}

// run runs actions in order and reports the outcome as one observation; a
// transient failure is returned as an error so the batch reruns later.
func (e *Engine) run(ctx context.Context, s State, acts []Action) (Observation, error) {
	var evidence json.RawMessage
	for _, a := range acts {
		if a.Kind == Analyze {
			v, err := e.d.Judge.Judge(ctx, s)
			if err != nil {
				return Observation{}, err
			}
			return Observation{Kind: Judged, Seq: s.Seq, Verdict: &v}, nil
		}
		ev, err := e.do(ctx, s, a)
		if ev != nil {
			evidence = ev
		}
		if err != nil {
			if permanent(ctx, err) {
				return Observation{Kind: Failure, Seq: s.Seq, Action: a.Kind, Error: err.Error(), Evidence: evidence}, nil
			}
			return Observation{}, fmt.Errorf("%s: %w", a.Kind, err)
		}
	}
	return Observation{Kind: Done, Seq: s.Seq, Evidence: evidence}, nil
}

func (e *Engine) do(ctx context.Context, s State, a Action) (json.RawMessage, error) {
	switch a.Kind {
	case StartVersion, SetWeights, StopVersion:
		return nil, e.d.Target.Apply(ctx, *a.Desired)
	case Verify:
		if e.d.Verifier != nil {
			return e.d.Verifier.Verify(ctx, s)
		}
	case RunHooks:
		if e.d.Hooks == nil {
			return nil, fmt.Errorf("%w: %s declares hooks but this engine has no hook runner", ErrActionFailed, s.Service)
		}
		return e.d.Hooks.Hooks(ctx, s)
	case RunSmoke:
		if e.d.Smoke != nil {
			return e.d.Smoke.Smoke(ctx, s)
		}
	case CheckInfra:
		if e.d.Infra == nil {
			return nil, fmt.Errorf("%w: %s's service stack must be checked before deploying, but this engine has no infrastructure checker", ErrActionFailed, s.Environment)
		}
		return e.d.Infra.CheckInfra(ctx, s)
	case SetFlag:
		// The flag takes effect at its next evaluation; traffic moves next
		// whatever happens here, so a failure is logged, not returned.
		err := fmt.Errorf("no flag switch in this engine")
		if e.d.Flags != nil {
			err = e.d.Flags.SetFlag(ctx, s, *a.Flag)
		}
		if err != nil {
			e.d.Logger.Error("rollback flag action failed; the rollback goes on", "rollout", s.ID, "action", a.Flag.String(), "err", err)
		}
	default:
		return nil, fmt.Errorf("%w: unknown action %q", ErrActionFailed, a.Kind)
	}
	return nil, nil
}
