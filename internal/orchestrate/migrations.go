package orchestrate

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	"github.com/belay-dev/belay/internal/gate/migration"
	"github.com/belay-dev/belay/internal/release"
	"github.com/belay-dev/belay/internal/spec"
)

// The migration check at release time: belay.yaml declares a release's
// migration_type, and the migration files packed in the artifact
// (migration.files) say what it is. The files new since the previous
// stable of the environment the release starts in — added, or changed —
// are checked; a declared type their statements exceed is refused, naming
// file, line and rule. A first release has nothing to roll back to, so its
// findings are notes only.

var typeRank = map[spec.MigrationType]int{spec.NoMigration: 0, spec.ExpandOnly: 1, spec.Contract: 2}

// checkMigrations checks pl's migrations and notes what it found in pl.
func (o *Orchestrator) checkMigrations(ctx context.Context, p *spec.Project, pl *release.Plan, env string) error {
	svc := p.Service(pl.Service)
	if svc == nil || svc.Migration == nil || len(svc.Migration.Files) == 0 {
		return nil
	}
	m := svc.Migration
	dir, err := o.d.Artifacts.Open(ctx, pl.Digest)
	if err != nil {
		return fmt.Errorf("open %s to check its migrations: %w", pl.Version, err)
	}
	files, err := migration.ReadFiles(dir, m.Files)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errorf(release.ErrUnsafe, "%s: migration.files %v match no file in the artifact: list them in build.outputs so that they are packed", pl.Version, m.Files)
	}
	prev := pl.PreviousStable[env]
	if prev != "" {
		old, err := o.stableMigrations(ctx, prev, m.Files)
		if err != nil {
			return err
		}
		files = slices.DeleteFunc(files, func(f migration.File) bool { return old[f.Name] == sha256.Sum256([]byte(f.SQL)) })
	}
	if len(files) == 0 {
		pl.Notes = append(pl.Notes, fmt.Sprintf("migrations: none new since %s", prev))
		return nil
	}
	rep, err := migration.CheckWith(files, migration.Options{AssumeInTransaction: m.InTransaction})
	if err != nil {
		return errorf(release.ErrUnsafe, "%s: its migrations do not parse: %v", pl.Version, err)
	}
	declared := spec.MigrationType(pl.MigrationType)
	summary := fmt.Sprintf("migrations: %d new file(s), %d statement(s): %s", len(rep.Files), len(rep.Statements), rep.MigrationType)
	if typeRank[rep.MigrationType] <= typeRank[declared] {
		pl.Notes = append(pl.Notes, summary)
		return nil
	}
	var why []string
	for _, f := range rep.Findings {
		if !f.Ignored && typeRank[classType(f.Class)] > typeRank[declared] {
			why = append(why, fmt.Sprintf("%s:%d:%d %s (%s): %s", f.File, f.Line, f.Column, f.Rule, f.Class, f.Explanation))
		}
	}
	if len(why) == 0 {
		why = append(why, fmt.Sprintf("%d statement(s) change the schema", len(rep.Statements)))
	}
	if prev == "" {
		pl.Notes = append(pl.Notes, summary+" (declared "+string(declared)+"; a first release has no previous version to protect): "+strings.Join(why, "; "))
		return nil
	}
	return errorf(release.ErrUnsafe, "%s declares migration_type %s, but its migrations new since %s are %s: %s; "+
		"make them safe (see `belay gate migrations` and docs/gates.md), or declare migration_type: %s and release with --allow-contract --reason",
		pl.Version, declared, prev, rep.MigrationType, strings.Join(why, "; "), rep.MigrationType)
}

// classType is the migration type a finding's class gives.
func classType(c migration.Class) spec.MigrationType {
	switch c {
	case migration.Contract, migration.LockHazard:
		return spec.Contract
	}
	return spec.ExpandOnly
}

// stableMigrations are the migration files of version, by name, as hashes.
func (o *Orchestrator) stableMigrations(ctx context.Context, version string, globs []string) (map[string][32]byte, error) {
	digest, err := o.d.Artifacts.Verify(ctx, version)
	if err != nil {
		return nil, fmt.Errorf("verify the previous stable %s to compare migrations: %w", version, err)
	}
	dir, err := o.d.Artifacts.Open(ctx, digest)
	if err != nil {
		return nil, fmt.Errorf("open the previous stable %s to compare migrations: %w", version, err)
	}
	files, err := migration.ReadFiles(dir, globs)
	if err != nil {
		return nil, err
	}
	out := make(map[string][32]byte, len(files))
	for _, f := range files {
		out[f.Name] = sha256.Sum256([]byte(f.SQL))
	}
	return out, nil
}
