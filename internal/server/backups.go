package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/auth"
	"github.com/belay-dev/belay/internal/backup"
	"github.com/belay-dev/belay/internal/infra"
	"github.com/belay-dev/belay/internal/orchestrate"
	"github.com/belay-dev/belay/internal/store"
)

// Backups over the API: taking one now and restoring one into a new
// database need the deployer role in the environment, restoring in place
// of the live database the admin role; listing any token. Of several
// servers, the holder of the lease "backups" takes the scheduled ones.

// backupErr maps the backup errors to answers.
func backupErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, backup.ErrNotFound):
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	case errors.Is(err, backup.ErrCorrupt), errors.Is(err, backup.ErrInvalid), errors.Is(err, infra.ErrNoBackups):
		return fmt.Errorf("%w: %w", orchestrate.ErrBadRequest, err)
	}
	return infraErr(err)
}

func (s *Server) postBackup(r *http.Request) (any, error) {
	var req api.BackupRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	env, p, e, err := s.infraSession(r, auth.Backup)
	if err != nil {
		return nil, err
	}
	// A dump under way goes on if the client goes away: it is written
	// atomically and audited once whole.
	out, err := e.Backup(context.WithoutCancel(r.Context()), p, env, req.Service, identity(r).Name, strings.TrimSpace(req.Reason))
	if err != nil {
		return nil, backupErr(err)
	}
	return out, nil
}

func (s *Server) getBackups(r *http.Request) (any, error) {
	env, p, e, err := s.infraSession(r, auth.Read)
	if err != nil {
		return nil, err
	}
	out, err := e.ListBackups(p, env, r.URL.Query().Get("service"))
	return out, backupErr(err)
}

func (s *Server) postRestore(r *http.Request) (any, error) {
	var req api.RestoreRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	a := auth.Backup
	if req.Replace {
		a = auth.Replace
	}
	env, p, e, err := s.infraSession(r, a)
	if err != nil {
		return nil, err
	}
	out, err := e.Restore(context.WithoutCancel(r.Context()), p, env, infra.RestoreOptions{Service: req.Service, ID: req.Backup,
		Into: req.Into, Replace: req.Replace, Actor: identity(r).Name, Reason: strings.TrimSpace(req.Reason)})
	if err != nil {
		return nil, backupErr(err)
	}
	return out, nil
}

// backupCheckEvery is how often the server looks for due backups.
const backupCheckEvery = time.Minute

// runBackups takes every environment's due backups while this server
// holds the lease "backups" (held for a while past each check, so a long
// dump does not let another server start the same one).
func (s *Server) runBackups(ctx context.Context) {
	if s.d.Secrets == nil {
		return
	}
	every := backupCheckEvery
	if s.d.BackupCheckEvery > 0 {
		every = s.d.BackupCheckEvery
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = s.d.Store.ReleaseLease(ctx, infra.BackupsLease, s.d.Holder)
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.backupTick(ctx, every)
	}
}

// backupTick takes the due backups once, if this server holds the lease.
func (s *Server) backupTick(ctx context.Context, every time.Duration) {
	p, err := s.Project()
	if err != nil || p.ServiceStack == nil {
		return
	}
	if _, ok := p.ServiceStack.Components()["backups"]; !ok {
		return
	}
	_, held, err := s.d.Store.AcquireLease(ctx, infra.BackupsLease, s.d.Holder, 3*every+time.Hour, s.d.Now())
	if err != nil || !held {
		return
	}
	e, err := s.infraEngine()
	if err != nil {
		return
	}
	for _, env := range p.EnvironmentNames() {
		if params := p.Environment(env).Stack["backups"]; params["enabled"] == "false" {
			continue
		}
		out, err := e.DueBackups(ctx, p, env, "server:"+s.d.Holder)
		for _, m := range out.Backups {
			s.d.Logger.Info("backup taken", "environment", env, "service", m.Service, "id", m.ID, "bytes", m.Size)
		}
		if err != nil && !errors.Is(err, infra.ErrNoBackups) {
			s.d.Logger.Warn("scheduled backups", "environment", env, "err", err)
		}
	}
}
