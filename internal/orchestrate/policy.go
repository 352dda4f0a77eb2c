package orchestrate

import (
	"context"
	"fmt"
	"strings"

	"github.com/belay-dev/belay/internal/spec"
)

// checkRefs applies env's branch and tag rule (protection.branches and
// tags) to a release's artifact, before anything starts there: the refs
// come from the artifact's trusted signed provenance, read from the store
// by digest, never from the request.
func (o *Orchestrator) checkRefs(ctx context.Context, p *spec.Project, env, version, digest string) error {
	e := p.Environment(env)
	if e == nil || !e.Protection.RestrictsRefs() {
		return nil
	}
	ref := digest
	if ref == "" {
		ref = version
	}
	refs, err := o.d.Artifacts.Refs(ctx, ref)
	if err != nil {
		return fmt.Errorf("%s protects its branches and tags, and the refs of %s cannot be read: %w", env, version, err)
	}
	return refPolicy(env, e.Protection, version, refs)
}

// refPolicy admits an artifact built from refs into env when one of them
// matches env's branch or tag patterns; otherwise it says what was built
// from what, what env accepts and what to do, as ErrPolicy.
func refPolicy(env string, pr *spec.Protection, version string, refs []string) error {
	if !pr.RestrictsRefs() {
		return nil
	}
	for _, r := range refs {
		if pr.AllowsRef(r) {
			return nil
		}
	}
	from := "without a branch or tag (a detached commit, or uncommitted changes)"
	if len(refs) > 0 {
		from = "from " + strings.Join(refs, ", ")
	}
	var accepts, todo []string
	if len(pr.Branches) > 0 {
		accepts = append(accepts, fmt.Sprintf("branches [%s]", strings.Join(pr.Branches, ", ")))
		todo = append(todo, "build from "+strings.Join(pr.Branches, " or "))
	}
	if len(pr.Tags) > 0 {
		accepts = append(accepts, fmt.Sprintf("tags [%s]", strings.Join(pr.Tags, ", ")))
		todo = append(todo, fmt.Sprintf("tag the commit (%s) and build it again", strings.Join(pr.Tags, " or ")))
	}
	return fmt.Errorf("%w: %s was built %s; %s accepts %s: %s",
		ErrPolicy, version, from, env, strings.Join(accepts, " and "), strings.Join(todo, ", or "))
}
