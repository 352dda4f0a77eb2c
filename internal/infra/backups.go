package infra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/backup"
	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/infra/postgres"
	"github.com/belay-dev/belay/internal/infra/provider"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// BackupsLease is the lease the server holding it runs the scheduled
// backups under, so that one of several servers takes them.
const BackupsLease = "backups"

// ErrNoBackups: the environment's stack has no backups component, or its
// policy was not applied.
var ErrNoBackups = errors.New("backups")

// Backups is the answer to a backup or a listing.
type Backups struct {
	Environment string            `json:"environment"`
	Dir         string            `json:"dir"`
	Backups     []backup.Manifest `json:"backups"`
	// Pruned are the dumps the retention removed after this backup.
	Pruned []backup.Manifest `json:"pruned,omitempty"`
}

// backupTarget is what backing up one service needs.
type backupTarget struct {
	service, database string
	schedule          time.Duration
	retention         backup.Retention
}

// backupSetup reads env's backups directory, the database server's
// administrator URL and each service's applied policy (service "" = all).
func (e *Engine) backupSetup(p *spec.Project, env, service string) (dir, adminURL string, ts []backupTarget, err error) {
	st, err := StackOf(p, env, e.Secrets)
	if err != nil {
		return "", "", nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	ps, ok := st.Local["backups"]
	if !ok || p.Environment(env).Stack["backups"]["enabled"] == "false" { // disabled: its dir is kept only to delete its policies
		return "", "", nil, fmt.Errorf("%w: %s has no backups component (service_stack.backups: pg_dump, with its stack parameters)", ErrNoBackups, env)
	}
	dir = ps["dir"]
	name := st.Servers["database"]
	vals, err := e.Secrets(env, []string{name})
	if err != nil {
		return "", "", nil, fmt.Errorf("%w: the database server's administrator URL: %v", ErrInvalid, err)
	}
	if service != "" && p.Service(service) == nil {
		return "", "", nil, fmt.Errorf("%w: service %q is not defined in belay.yaml; defined: %v", ErrInvalid, service, p.ServiceNames())
	}
	for _, d := range st.Resources {
		if d.Kind != backup.KindPolicy || service != "" && d.Spec["service"] != service {
			continue
		}
		pol, err := backup.Policy(dir, d.Name)
		if err != nil {
			return "", "", nil, fmt.Errorf("%w: %v", ErrNoBackups, err)
		}
		sched, err := backup.ParseSchedule(pol["schedule"])
		if err != nil {
			return "", "", nil, fmt.Errorf("%w: %s's applied policy: %v", ErrNoBackups, d.Name, err)
		}
		ret, err := backup.ParseRetention(pol["retention"])
		if err != nil {
			return "", "", nil, fmt.Errorf("%w: %s's applied policy: %v", ErrNoBackups, d.Name, err)
		}
		ts = append(ts, backupTarget{service: pol["service"], database: pol["database"], schedule: sched, retention: ret})
	}
	return dir, vals[name], ts, nil
}

// Backup dumps the databases of env (of service, or every one), prunes
// each by its retention, and records each dump as an infra.backup audit
// entry and a backup_taken event, each with actor's reason.
func (e *Engine) Backup(ctx context.Context, p *spec.Project, env, service, actor, reason string) (Backups, error) {
	dir, admin, ts, err := e.backupSetup(p, env, service)
	if err != nil {
		return Backups{}, err
	}
	out := Backups{Environment: env, Dir: dir, Backups: []backup.Manifest{}}
	for _, t := range ts {
		m, pruned, err := e.backupOne(ctx, dir, admin, env, t, actor, reason)
		if err != nil {
			return out, err
		}
		out.Backups = append(out.Backups, m)
		out.Pruned = append(out.Pruned, pruned...)
	}
	return out, nil
}

func (e *Engine) backupOne(ctx context.Context, dir, admin, env string, t backupTarget, actor, reason string) (backup.Manifest, []backup.Manifest, error) {
	now := e.now()
	m, err := backup.Take(ctx, admin, dir, env, t.service, t.database, now)
	if err != nil {
		return m, nil, err
	}
	pruned, perr := backup.Prune(dir, env, t.service, t.retention, now)
	var gone []string
	for _, g := range pruned {
		gone = append(gone, g.ID)
	}
	detail, _ := json.Marshal(map[string]any{"environment": env, "manifest": m, "pruned": gone, "retention": t.retention.String()})
	if _, err := e.Store.AppendAudit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "infra.backup",
		Subject: "backup/" + env + "/" + m.ID, Reason: reason, Detail: detail}); err != nil {
		return m, pruned, fmt.Errorf("backup %s taken, but not audited: %w", m.ID, err)
	}
	if err := e.emit(ctx, event.Event{ID: "backup/" + env + "/" + m.ID, Event: event.BackupTaken, Time: now, Service: t.service,
		Environment: env, Actor: actor, Reason: reason, Evidence: detail}); err != nil {
		return m, pruned, err
	}
	return m, pruned, perr
}

func (e *Engine) emit(ctx context.Context, ev event.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = e.Store.AppendEvent(ctx, b, ev.Time)
	return err
}

// ListBackups lists env's dumps (of service, or of every one), newest first.
func (e *Engine) ListBackups(p *spec.Project, env, service string) (Backups, error) {
	dir, _, ts, err := e.backupSetup(p, env, service)
	if err != nil {
		return Backups{}, err
	}
	out := Backups{Environment: env, Dir: dir, Backups: []backup.Manifest{}}
	for _, t := range ts {
		ms, err := backup.List(dir, env, t.service)
		if err != nil {
			return out, err
		}
		out.Backups = append(out.Backups, ms...)
	}
	return out, nil
}

// DueBackups takes the dumps whose schedule has come (the newest dump is
// older than the schedule, or there is none), as actor.
func (e *Engine) DueBackups(ctx context.Context, p *spec.Project, env, actor string) (Backups, error) {
	dir, admin, ts, err := e.backupSetup(p, env, "")
	if err != nil {
		return Backups{}, err
	}
	out := Backups{Environment: env, Dir: dir, Backups: []backup.Manifest{}}
	var errs []error
	for _, t := range ts {
		ms, err := backup.List(dir, env, t.service)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(ms) > 0 && e.now().Sub(ms[0].Time) < t.schedule {
			continue
		}
		m, pruned, err := e.backupOne(ctx, dir, admin, env, t, actor, "")
		if err != nil {
			errs = append(errs, fmt.Errorf("%s in %s: %w", t.service, env, err))
			continue
		}
		out.Backups = append(out.Backups, m)
		out.Pruned = append(out.Pruned, pruned...)
	}
	return out, errors.Join(errs...)
}

// RestoreOptions are a restore's choices.
type RestoreOptions struct {
	Service string
	// ID is the backup (default the newest).
	ID string
	// Into names the new database (default <db>_restore_<time>).
	Into string
	// Replace swaps the restored database in for the live one (kept as
	// <db>_replaced_<time>); the caller checks the role, Reason is required.
	Replace bool
	Actor   string
	Reason  string
}

// Restored is a restore's answer.
type Restored struct {
	Environment string          `json:"environment"`
	Backup      backup.Manifest `json:"backup"`
	Database    string          `json:"database"`           // where the data is now
	Replaced    string          `json:"replaced,omitempty"` // the former live database, with --replace
}

// intoName is what --into accepts: a plain PostgreSQL identifier, nothing
// to quote or escape on its way into a connection string.
var intoName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Restore verifies a dump and restores it into a new database (or, with
// Replace, in place of the live one), audited as infra.restore with a
// backup_restored event.
func (e *Engine) Restore(ctx context.Context, p *spec.Project, env string, o RestoreOptions) (Restored, error) {
	if o.Service == "" {
		return Restored{}, fmt.Errorf("%w: name the service whose database to restore (--service)", ErrInvalid)
	}
	if o.Replace && strings.TrimSpace(o.Reason) == "" {
		return Restored{}, fmt.Errorf("%w: --replace needs a --reason, kept in the audit log", ErrInvalid)
	}
	if o.Into != "" && !intoName.MatchString(o.Into) {
		return Restored{}, fmt.Errorf("%w: --into %q: name the new database with 1 to 63 lower-case letters, digits and _, not starting with a digit (^[a-z_][a-z0-9_]{0,62}$)", ErrInvalid, o.Into)
	}
	if o.Replace && o.Into != "" {
		return Restored{}, fmt.Errorf("%w: --replace restores into the live database's name; --into does not apply", ErrInvalid)
	}
	dir, admin, ts, err := e.backupSetup(p, env, o.Service)
	if err != nil {
		return Restored{}, err
	}
	if len(ts) != 1 {
		return Restored{}, fmt.Errorf("%w: %s has no database with a backup policy in %s", ErrNoBackups, o.Service, env)
	}
	m, err := backup.Find(dir, env, o.Service, o.ID)
	if err != nil {
		return Restored{}, err
	}
	now := e.now()
	into := o.Into
	if into == "" {
		into = backup.RestoreName(m.Database, now)
	}
	if into == m.Database {
		return Restored{}, fmt.Errorf("%w: --into %s is the live database; restoring over it needs --replace (admin role, audited)", ErrInvalid, into)
	}
	out := Restored{Environment: env, Backup: m, Database: into}
	if err := backup.Restore(ctx, admin, m, into, ownerRole(o.Service, env)); err != nil {
		return out, err
	}
	if o.Replace {
		old, err := backup.Replace(ctx, admin, m.Database, into, now)
		if err != nil {
			return out, fmt.Errorf("%w (the dump is restored in %s)", err, into)
		}
		out.Database, out.Replaced = m.Database, old
		// A dump holds what is in a database, not the database's own
		// settings (connection limit, PUBLIC's rights, CONNECT of the app
		// role): apply them again as last applied.
		if err := e.reapplyDatabase(ctx, env, admin, m.Database); err != nil {
			return out, fmt.Errorf("restored in place of %s (the former kept as %s), but its settings were not applied again: %w; belay plan and apply restore them", m.Database, old, err)
		}
	}
	detail, _ := json.Marshal(map[string]any{"environment": env, "backup": m.ID, "sha256": m.SHA256, "database": out.Database,
		"replace": o.Replace, "replaced": out.Replaced})
	if _, err := e.Store.AppendAudit(ctx, store.AuditEntry{At: now, Actor: o.Actor, Action: "infra.restore",
		Subject: "backup/" + env + "/" + m.ID, Reason: o.Reason, Detail: detail}); err != nil {
		return out, fmt.Errorf("restored into %s, but not audited: %w", out.Database, err)
	}
	return out, e.emit(ctx, event.Event{ID: "restore/" + env + "/" + m.ID + "/" + now.UTC().Format(time.RFC3339Nano), Event: event.BackupRestored,
		Time: now, Service: o.Service, Environment: env, Actor: o.Actor, Reason: o.Reason, Evidence: detail})
}

// reapplyDatabase makes database's settings on the server what belay last
// applied (nothing when belay has no record of it).
func (e *Engine) reapplyDatabase(ctx context.Context, env, admin, database string) error {
	rows, err := e.Store.InfraResources(ctx, env)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.Kind != postgres.KindDatabase || r.Name != database || len(r.Applied) == 0 || r.Policy == store.PolicyObserve {
			continue
		}
		var spec provider.Fields
		if err := json.Unmarshal(r.Applied, &spec); err != nil {
			return err
		}
		pr, err := postgres.New(admin)
		if err != nil {
			return err
		}
		defer pr.Close()
		return pr.Update(ctx, provider.Resource{Kind: r.Kind, Name: r.Name, Spec: spec})
	}
	return nil
}
