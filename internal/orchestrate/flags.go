package orchestrate

import (
	"context"
	"fmt"

	"github.com/belay-dev/belay/internal/flag"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
)

// flagSwitch makes a rollback's flag changes (rollback_action's
// disable_flag and enable_flag) as persisted overrides, audited with the
// rollout as the actor and shown in the release's timeline.
type flagSwitch struct{ o *Orchestrator }

var _ rollout.FlagSwitch = flagSwitch{}

func (f flagSwitch) SetFlag(ctx context.Context, st rollout.State, c rollout.FlagChange) error {
	p, err := f.o.d.Project()
	if err != nil {
		return err
	}
	svc := &flag.Service{Store: f.o.d.Store, Now: f.o.d.Now}
	actor := "rollout/" + st.ID
	op, want := flag.Disable, spec.FlagDisabled
	if c.Enable {
		op, want = flag.Enable, spec.FlagEnabled
	}
	// Re-run after a crash: the override this rollback made is there.
	if flags, err := svc.Effective(ctx, p, st.Environment); err == nil {
		if r, ok := flags[c.Flag]; ok && r.Override != nil && r.Override.Actor == actor && r.Override.State == want {
			return nil
		}
	}
	ch, err := svc.Change(ctx, p, flag.Change{Environment: st.Environment, Flag: c.Flag, Op: op, Actor: actor,
		Reason: fmt.Sprintf("rollback of %s: %s", st.New.Version, st.Reason), Rollout: st.ID, Release: st.Release, Service: st.Service})
	if err != nil {
		return err
	}
	f.o.d.Published(ctx, ch.Events)
	return nil
}
