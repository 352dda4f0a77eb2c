package server

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/auth"
	"github.com/belay-dev/belay/internal/flag"
	"github.com/belay-dev/belay/internal/orchestrate"
)

// Feature flags over the API: any token reads them as served (belay.yaml
// with the run-time overrides on top); changing an override needs the
// deployer role in the environment and a reason, and is audited with the
// change, which internal/flag checks against belay.yaml.

func (s *Server) flagService() *flag.Service { return &flag.Service{Store: s.d.Store, Now: s.d.Now} }

// getFlags lists the flags of ?env=E, or of every environment.
func (s *Server) getFlags(r *http.Request) (any, error) {
	p, err := s.Project()
	if err != nil {
		return nil, err
	}
	envs := p.EnvironmentNames()
	if env := r.URL.Query().Get("env"); env != "" {
		envs = []string{env}
	}
	out := []api.FlagView{}
	for _, env := range envs {
		if err := s.allow(r, auth.Read, env); err != nil {
			return nil, err
		}
		flags, orphans, err := s.flagService().View(r.Context(), p, env)
		if err != nil {
			return nil, err
		}
		for _, key := range p.FlagKeys() {
			out = append(out, flagView(env, flags[key]))
		}
		for _, o := range orphans {
			out = append(out, orphanView(o))
		}
	}
	return out, nil
}

func (s *Server) getFlag(r *http.Request) (any, error) {
	env, key := r.PathValue("env"), r.PathValue("key")
	if err := s.allow(r, auth.Read, env); err != nil {
		return nil, err
	}
	p, err := s.Project()
	if err != nil {
		return nil, err
	}
	flags, orphans, err := s.flagService().View(r.Context(), p, env)
	if err != nil {
		return nil, err
	}
	if f, ok := flags[key]; ok {
		return flagView(env, f), nil
	}
	if i := slices.IndexFunc(orphans, func(o flag.Override) bool { return o.Flag == key }); i >= 0 {
		return orphanView(orphans[i]), nil
	}
	return nil, flag.UnknownFlag(p, key)
}

func (s *Server) postFlag(r *http.Request) (any, error) {
	var req api.FlagRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	env, key, op := r.PathValue("env"), r.PathValue("key"), flag.Op(r.PathValue("op"))
	if !slices.Contains(flag.Ops, op) {
		return nil, fmt.Errorf("%w: unknown flag change %q: use set, disable, enable or reset", orchestrate.ErrBadRequest, op)
	}
	if err := s.allow(r, auth.Flags, env); err != nil {
		return nil, err
	}
	p, err := s.Project()
	if err != nil {
		return nil, err
	}
	ch, err := s.flagService().Change(r.Context(), p, flag.Change{Environment: env, Flag: key, Op: op, Variant: req.Variant,
		Actor: identity(r).Name, Reason: req.Reason})
	if err != nil {
		return nil, err
	}
	s.published(r.Context(), ch.Events)
	v := orphanView(flag.Override{Environment: env, Flag: key})
	if ch.Flag.File.Variants != nil {
		v = flagView(env, ch.Flag)
	}
	return api.FlagChange{Action: ch.Action, Before: ch.Before, After: ch.After, Flag: v}, nil
}

func flagView(env string, r flag.Resolved) api.FlagView {
	served, file := flag.SettingOf(r.Flag), flag.SettingOf(r.File)
	v := api.FlagView{Environment: env, Key: r.Key, Kind: string(r.File.Kind), Type: string(r.File.Variants.Type()),
		Description: r.File.Description, State: string(served.State), Variant: served.Variant, Variants: r.File.Variants,
		File: &file, Override: r.Override, Differences: r.Differences(), Problem: r.Problem}
	if served.Split {
		v.Split = r.Flag.Targeting.Fractional
	}
	return v
}

// orphanView is the override of a flag belay.yaml no longer defines: it
// serves nothing, and stays until reset.
func orphanView(o flag.Override) api.FlagView {
	v := api.FlagView{Environment: o.Environment, Key: o.Flag}
	if o.Actor != "" {
		v.Override = &o
		v.Problem = fmt.Sprintf("flag %s is no longer defined in belay.yaml: its override serves nothing; "+
			"remove it with belay flags reset %s --env %s", o.Flag, o.Flag, o.Environment)
	}
	return v
}
