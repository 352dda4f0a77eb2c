// Package release makes release plans — the seed's release_plan block,
// resolved against the store — and validates them rollback-first: the exit
// path must exist before a release enters an environment.
package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// Errors a plan can fail with.
var (
	ErrUnknown   = errors.New("unknown")           // service, version or environment
	ErrUnsafe    = errors.New("not rollback-safe") // the exit path is missing or unsafe
	ErrMismatch  = errors.New("plan disagrees with the store")
	ErrNoService = errors.New("unknown service")
	// ErrNoArtifact is a version the artifact store does not hold; a
	// Verifier wraps it so that a plan can say what to build.
	ErrNoArtifact = errors.New("no such artifact")
)

// Plan is a release plan: the seed's fields, with previous_stable resolved
// per environment.
type Plan struct {
	Service        string            `json:"service"`
	Version        string            `json:"version"`
	Digest         string            `json:"digest"`
	PreviousStable map[string]string `json:"previous_stable"` // environment → version; absent: first release there
	MigrationType  string            `json:"migration_type"`
	Rollout        string            `json:"rollout"`
	Triggers       []string          `json:"rollback_trigger"`
	RollbackAction []string          `json:"rollback_action"`
	Owner          string            `json:"owner"`           // who owns the service: belay.yaml's owner
	Actor          string            `json:"actor,omitempty"` // who asked for the release
	Runbook        string            `json:"runbook,omitempty"`
	Environments   []string          `json:"environments"` // promotion order
	AllowContract  bool              `json:"allow_contract,omitempty"`
	Supersede      bool              `json:"supersede,omitempty"` // takes the place of older releases waiting for an environment
	// Adopt: drift the target reports (changed outside belay) does not stop
	// the release's rollouts; each adoption is audited (rollout.drift.adopted).
	Adopt  bool     `json:"adopt,omitempty"`
	Reason string   `json:"reason,omitempty"`
	Notes  []string `json:"notes,omitempty"`
	// CI is the latest belay ci run of each stage on the artifact's commit.
	CI        []CIRef   `json:"ci,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// CIRef points at a recorded belay ci run: its evidence is in the store.
type CIRef struct {
	Stage  string    `json:"stage"`
	Status string    `json:"status"`
	Run    int64     `json:"run"`
	Commit string    `json:"commit"`
	At     time.Time `json:"at"`
}

// Verifier checks that an artifact version exists and verifies (digests and
// signature); it returns the artifact's digest.
type Verifier interface {
	Verify(ctx context.Context, version string) (digest string, err error)
}

// History is what a plan reads from the store: the stable versions of each
// environment and the versions that were rolled back.
type History interface {
	StableHistory(ctx context.Context, service, env string) ([]store.StableVersion, error)
	Rejections(ctx context.Context, service, version string) ([]store.Rejection, error)
}

// Options are the caller's choices.
type Options struct {
	// Owner is the release's owner when neither belay.yaml nor the plan
	// file names one; Actor is who asks, and the owner of last resort.
	Owner         string
	Actor         string
	AllowContract bool
	Supersede     bool
	Adopt         bool // drift does not stop the rollouts (belay release --adopt)
	Reason        string
	// From is a plan file in the seed's YAML; its fields must agree with the project and the store.
	From *spec.ReleasePlan
	Now  time.Time
	// Start is the environment the release enters first (default the first
	// in promotion order); earlier ones are not part of the plan.
	Start string
}

// New builds and validates the plan for releasing version of service.
func New(ctx context.Context, p *spec.Project, st History, v Verifier, service, version string, o Options) (Plan, error) {
	svc := p.Service(service)
	if svc == nil {
		return Plan{}, fmt.Errorf("%w %q: belay.yaml defines %s", ErrNoService, service, strings.Join(p.ServiceNames(), ", "))
	}
	if err := checkVersion(service, version); err != nil {
		return Plan{}, err
	}
	plan := Plan{
		Service: service, Version: version, Owner: svc.Owner, Actor: o.Actor, Runbook: svc.Runbook,
		Rollout: string(svc.Rollout.Strategy), Environments: fromEnv(p.EnvironmentNames(), o.Start),
		PreviousStable: map[string]string{}, MigrationType: string(spec.NoMigration),
		AllowContract: o.AllowContract, Supersede: o.Supersede, Adopt: o.Adopt, Reason: o.Reason, CreatedAt: o.Now.UTC(),
	}
	if svc.Migration != nil && svc.Migration.Type != "" {
		plan.MigrationType = string(svc.Migration.Type)
	}
	for _, t := range svc.RollbackTrigger {
		plan.Triggers = append(plan.Triggers, t.Raw)
	}
	for _, a := range svc.RollbackAction {
		plan.RollbackAction = append(plan.RollbackAction, a.String())
	}
	digest, err := v.Verify(ctx, version)
	if errors.Is(err, ErrNoArtifact) {
		if _, perr := spec.ParseVersion(version); perr != nil {
			return Plan{}, malformed(service, version)
		}
		return Plan{}, fmt.Errorf("%w: no artifact %s was built or pushed to the artifact store: build it with `belay build %s` at its commit, and see what exists with `belay artifacts list`",
			ErrNoArtifact, version, service)
	}
	if err != nil {
		return Plan{}, fmt.Errorf("%w: release %s: %w", ErrUnsafe, version, err)
	}
	plan.Digest = digest
	if err := plan.resolveStables(ctx, st, v); err != nil {
		return Plan{}, err
	}
	if o.From != nil {
		if err := plan.agreeWith(o.From); err != nil {
			return Plan{}, err
		}
	}
	for _, owner := range []string{o.Owner, o.Actor} {
		if plan.Owner == "" {
			plan.Owner = owner
		}
	}
	return plan, plan.checkMigration()
}

// checkVersion refuses a version that is not service's: a string that is no
// release version at all is malformed, a well-formed one of another service
// is unknown here. A version with the service's prefix passes: whether it
// exists is the artifact store's to say (and a missing one is checked for
// shape then).
func checkVersion(service, version string) error {
	if strings.HasPrefix(version, service+"-") {
		return nil // the artifact store decides whether it exists
	}
	v, err := spec.ParseVersion(version)
	if err != nil {
		return malformed(service, version)
	}
	return fmt.Errorf("%w: version %s belongs to service %s, not %s", ErrUnknown, version, v.Service, service)
}

func malformed(service, version string) error {
	return fmt.Errorf("%w: release version %q is malformed: versions look like %s-YYYY.MM.DD-shortsha, e.g. %s-2026.05.12-8f3a91c (see `belay artifacts list`)",
		spec.ErrVersion, version, service, service)
}

// resolveStables fills PreviousStable per environment from the store and
// checks that each one still verifies: a rollback target that cannot be
// deployed is no exit path.
func (pl *Plan) resolveStables(ctx context.Context, st History, v Verifier) error {
	for _, env := range pl.Environments {
		s, current, err := PreviousStable(ctx, st, pl.Service, env)
		if err != nil {
			return err
		}
		if current != nil && current.Version == pl.Version {
			return fmt.Errorf("%w: %s is already the stable version of %s in %s", ErrUnsafe, pl.Version, pl.Service, env)
		}
		if current != nil && (s == nil || s.Version != current.Version) {
			to := "nothing: a rollback there stops the new version"
			if s != nil {
				to = s.Version
			}
			pl.Notes = append(pl.Notes, fmt.Sprintf("%s runs %s, which was rolled back elsewhere, so it is not a rollback target: previous_stable in %s is %s", env, current.Version, env, to))
		}
		if s == nil {
			if current == nil {
				pl.Notes = append(pl.Notes, fmt.Sprintf("first release of %s in %s: there is no previous stable version to roll back to; a rollback there stops the new version", pl.Service, env))
			}
			continue
		}
		if _, err := v.Verify(ctx, s.Version); err != nil {
			return fmt.Errorf("%w: previous stable %s in %s does not verify, so it cannot be rolled back to: %w", ErrUnsafe, s.Version, env, err)
		}
		pl.PreviousStable[env] = s.Version
	}
	return nil
}

// PreviousStable is where a rollback of service in env returns: the newest
// stable version of env that was never rolled back anywhere (nil: none),
// and the environment's current stable version (nil: never deployed).
func PreviousStable(ctx context.Context, st History, service, env string) (prev, current *store.StableVersion, err error) {
	hist, err := st.StableHistory(ctx, service, env)
	if err != nil {
		return nil, nil, err
	}
	if len(hist) == 0 {
		return nil, nil, nil
	}
	current = &hist[0]
	for i := range hist {
		rej, err := st.Rejections(ctx, service, hist[i].Version)
		if err != nil {
			return nil, nil, err
		}
		if len(rej) == 0 {
			return &hist[i], current, nil
		}
	}
	return nil, current, nil
}

// agreeWith checks a seed-shaped plan file against the resolved plan.
func (pl *Plan) agreeWith(f *spec.ReleasePlan) error {
	if f.Version.String() != pl.Version {
		return fmt.Errorf("%w: plan file %s releases %s, not %s", ErrMismatch, f.File, f.Version, pl.Version)
	}
	last := pl.Environments[len(pl.Environments)-1]
	stored := pl.PreviousStable[last]
	if f.PreviousStable.String() != stored {
		if stored == "" {
			stored = "none (no stable version yet)"
		}
		return fmt.Errorf("%w: plan file %s says previous_stable %s, but the store's stable version of %s in %s is %s", ErrMismatch, f.File, f.PreviousStable, pl.Service, last, stored)
	}
	pl.MigrationType = string(f.MigrationType)
	pl.Rollout = string(f.Rollout)
	pl.Triggers = pl.Triggers[:0]
	for _, t := range f.RollbackTrigger {
		pl.Triggers = append(pl.Triggers, t.Raw)
	}
	pl.RollbackAction = pl.RollbackAction[:0]
	for _, a := range f.RollbackAction {
		pl.RollbackAction = append(pl.RollbackAction, a.String())
	}
	if f.Owner != "" && pl.Owner == "" {
		pl.Owner = f.Owner
	}
	return nil
}

func (pl *Plan) checkMigration() error {
	switch spec.MigrationType(pl.MigrationType) {
	case spec.ExpandOnly, spec.NoMigration:
		return nil
	case spec.Contract:
		if !pl.AllowContract || strings.TrimSpace(pl.Reason) == "" {
			return fmt.Errorf("%w: migration_type contract removes what the previous version needs, so %s could not be rolled back automatically; release it with --allow-contract --reason \"…\" if you accept that", ErrUnsafe, pl.Version)
		}
		pl.Notes = append(pl.Notes, "migration_type contract: automatic rollback past this release is refused; a human must decide ("+pl.Reason+")")
		return nil
	}
	return fmt.Errorf("%w: unknown migration_type %q", ErrUnsafe, pl.MigrationType)
}

// NoRollbackPast reports whether the engine must refuse automatic rollback.
func (pl Plan) NoRollbackPast() bool { return pl.MigrationType == string(spec.Contract) }

// fromEnv is envs from start on (all of them when start is empty or unknown).
func fromEnv(envs []string, start string) []string {
	for i, e := range envs {
		if e == start {
			return envs[i:]
		}
	}
	return envs
}
