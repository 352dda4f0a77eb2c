package orchestrate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/belay-dev/belay/internal/release"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// CI evidence: `belay ci run` records each stage's run on a commit. A
// release of an artifact built from that commit carries the latest run of
// each stage in its plan, and is judged by it: a stage that blocked keeps
// the release out of every environment, one whose block_promotion steps
// failed keeps it out of the last. A commit no stage ran on is let through:
// belay cannot know about CI it did not run.

// ciOf is the latest run of each stage on version's commit, in stage order.
func (o *Orchestrator) ciOf(ctx context.Context, version string) ([]release.CIRef, error) {
	art, err := o.d.Store.GetArtifact(ctx, version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil // built elsewhere: no commit to look up
	}
	if err != nil {
		return nil, err
	}
	runs, err := o.d.Store.CIRunsOf(ctx, art.Commit)
	if err != nil {
		return nil, err
	}
	latest := map[string]store.CIRun{}
	var order []string
	for _, r := range runs {
		if _, seen := latest[r.Stage]; !seen {
			order = append(order, r.Stage)
		}
		latest[r.Stage] = r
	}
	var out []release.CIRef
	for _, st := range order {
		r := latest[st]
		out = append(out, release.CIRef{Stage: st, Status: r.Status, Run: r.ID, At: r.CreatedAt, Commit: r.Commit})
	}
	return out, nil
}

// checkCI refuses version in env when its commit's CI evidence says so.
func (o *Orchestrator) checkCI(ctx context.Context, p *spec.Project, env, version string) error {
	refs, err := o.ciOf(ctx, version)
	if err != nil {
		return err
	}
	e := p.Environment(env)
	for _, r := range refs {
		switch {
		case r.Status == store.CIBlocked:
			return fmt.Errorf("%w: %s: the %s checks of its commit %s blocked (belay ci run %d at %s): fix what failed and run `belay ci run %s` again",
				ErrPolicy, version, r.Stage, short(r.Commit), r.Run, r.At.Format("2006-01-02 15:04"), r.Stage)
		case r.Status == store.CIPromotionBlocked && e != nil && p.Production(e):
			return fmt.Errorf("%w: %s may not enter %s: block_promotion steps of its %s checks failed (belay ci run %d); they may deploy it before %s only",
				ErrPolicy, version, env, r.Stage, r.Run, env)
		}
	}
	return nil
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// ciNote says what evidence a plan carries.
func ciNote(refs []release.CIRef) string {
	var parts []string
	for _, r := range refs {
		parts = append(parts, fmt.Sprintf("%s %s (run %d)", r.Stage, r.Status, r.Run))
	}
	return "ci: " + strings.Join(parts, ", ")
}
