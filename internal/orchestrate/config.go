package orchestrate

import (
	"fmt"
	"slices"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/hook"
	"github.com/belay-dev/belay/internal/infra"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/smoke"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/target"
)

// runOf maps a service's run and health settings in an environment onto
// what a target starts for one version.
func runOf(eff *spec.Effective, version, artifact string) target.Version {
	svc := eff.Service
	hc := svc.HealthCheck
	h := target.Health{
		Interval:           time.Duration(hc.Interval),
		Timeout:            time.Duration(hc.Timeout),
		UnhealthyThreshold: hc.UnhealthyThreshold,
		HealthTimeout:      time.Duration(hc.HealthTimeout),
	}
	if hc.HTTP != nil {
		h.HTTPPath, h.ExpectStatus = hc.HTTP.Path, hc.HTTP.ExpectStatus
	}
	env := map[string]string{"VERSION": version}
	for k, v := range eff.Env {
		env[k] = v
	}
	return target.Version{
		Version: version, Artifact: artifact, Instances: eff.Instances,
		Run:    target.Run{Command: svc.Run.Command, Args: svc.Run.Args, Env: env, Secrets: slices.Clone(svc.Run.Secrets)},
		Health: h,
	}
}

// baseOf is what every desired state of a service in an environment carries.
func baseOf(eff *spec.Effective) target.Desired {
	d := target.Desired{Environment: eff.EnvName, Service: eff.ServiceName, Listen: eff.Listen,
		VersionHeader: api.VersionHeader, DrainTimeout: time.Duration(eff.Rollout.DrainTimeout)}
	if st := eff.Rollout.Sticky; st != nil {
		d.Sticky = &target.Sticky{Header: st.Header, Cookie: st.Cookie}
	}
	return d
}

// rolloutConfig maps belay.yaml and the release plan onto one environment's rollout.
func rolloutConfig(p *spec.Project, pl planView, env string, stableDigest string) (rollout.Config, error) {
	eff, err := p.Effective(pl.Service, env)
	if err != nil {
		return rollout.Config{}, err
	}
	svc := eff.Service
	cfg := rollout.Config{
		Release: pl.ReleaseID, Service: pl.Service, Environment: env,
		New:             runOf(eff, pl.Version, pl.Digest),
		Base:            baseOf(eff),
		Strategy:        rollout.Strategy(eff.Rollout.Strategy),
		RequireApproval: eff.Environment.Protected(),
		MigrationType:   pl.MigrationType,
		Hooks:           svc.Migration != nil && svc.Migration.Command != "" || svc.Hooks != nil && svc.Hooks.PreDeploy != "",
		PostHooks:       svc.Hooks != nil && (svc.Hooks.PostPromote != "" || svc.Hooks.PostRollback != ""),
		// On Kubernetes the phase also reads the target's drift.
		InfraCheck: infra.Provisioned(p, env) || eff.Environment.Target == spec.TargetKubernetes,
		AdoptDrift: pl.AdoptedBy,
		Owner:      pl.Owner,
	}
	if pl.PreviousStable != "" {
		v := runOf(eff, pl.PreviousStable, stableDigest)
		cfg.Stable = &v
	}
	if cfg.RollbackSteps, err = rollbackSteps(pl.RollbackAction); err != nil {
		return rollout.Config{}, err
	}
	cfg.Watch, cfg.KeepPrevious = time.Duration(eff.Rollout.Watch), eff.Rollout.KeepPrevious
	if pr := eff.Environment.Protection; pr != nil && pr.RequireApproval {
		cfg.WaitTimer = time.Duration(pr.WaitTimer)
	}
	for _, s := range eff.Rollout.Steps {
		cfg.Steps = append(cfg.Steps, rollout.Step{Weight: float64(s.Weight) * 100, Shadow: float64(s.Shadow) * 100, Replay: s.Replay,
			MinDuration: time.Duration(s.MinDuration)})
	}
	if eff.Rollout.Shadow != nil || slices.ContainsFunc(cfg.Steps, rollout.Step.Paired) {
		m := eff.Rollout.Shadow.Effective()
		cfg.Mirror = &target.Shadow{Methods: m.Methods, MaxInFlight: m.MaxInFlight, MaxRate: m.MaxRate, ReplayRate: m.ReplayRate, DropHeaders: m.DropHeaders}
	}
	if a := svc.Analysis; a != nil {
		if cfg.Inconclusive, err = analysis.PolicyOf(a.Inconclusive); err != nil {
			return rollout.Config{}, err
		}
	}
	return cfg, nil
}

// rollbackSteps maps rollback_action lines onto the engine's steps.
func rollbackSteps(lines []string) ([]rollout.RollbackStep, error) {
	var out []rollout.RollbackStep
	for _, l := range lines {
		a, err := spec.ParseRollbackAction(l)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		switch a.Verb {
		case spec.ActionDeploy:
			out = append(out, rollout.RollbackStep{Deploy: true})
		case spec.ActionDisableFlag, spec.ActionEnableFlag:
			out = append(out, rollout.RollbackStep{Flag: &rollout.FlagChange{Flag: a.Arg, Enable: a.Verb == spec.ActionEnableFlag}})
		}
	}
	return out, nil
}

// smokeTests maps the service's smoke tests.
func smokeTests(svc *spec.Service) []smoke.Test {
	var out []smoke.Test
	for _, t := range svc.SmokeTests {
		st := smoke.Test{Name: t.Name, Command: t.Command, Timeout: time.Duration(t.Timeout)}
		if h := t.HTTP; h != nil {
			st.HTTP = &smoke.HTTP{Method: string(h.Method), Path: h.Path, ExpectStatus: h.ExpectStatus, BodyContains: h.BodyContains}
			if f := h.JSONField; f != nil {
				st.HTTP.JSON = map[string]any{f.Path: f.Equals}
			}
		}
		out = append(out, st)
	}
	return out
}

// phaseHooks are the commands a rollout phase runs: before the new version
// takes traffic (Migrating) the migration, then the pre_deploy hook; once it
// is promoted, post_promote; once a rollback moved traffic back, post_rollback.
func phaseHooks(svc *spec.Service, st rollout.State, dir string) []hook.Spec {
	env := map[string]string{"BELAY_SERVICE": svc.Name, "BELAY_ENVIRONMENT": st.Environment,
		"BELAY_VERSION": st.New.Version, "BELAY_ROLLOUT": st.ID}
	if st.Stable != nil {
		env["BELAY_STABLE_VERSION"] = st.Stable.Version
	}
	h := svc.Hooks
	if h == nil {
		h = &spec.Hooks{}
	}
	var out []hook.Spec
	switch st.Phase {
	case rollout.Migrating:
		if m := svc.Migration; m != nil && m.Command != "" {
			out = append(out, hook.Spec{Name: "migration", Command: m.Command, Dir: dir, Env: env, Timeout: time.Duration(m.Timeout)})
		}
		if h.PreDeploy != "" {
			out = append(out, hook.Spec{Name: "pre_deploy", Command: h.PreDeploy, Dir: dir, Env: env})
		}
	case rollout.Promoting:
		if h.PostPromote != "" {
			out = append(out, hook.Spec{Name: "post_promote", Command: h.PostPromote, Dir: dir, Env: env})
		}
	case rollout.RollingBack:
		if h.PostRollback != "" {
			if to := st.RollbackTarget(); to != nil {
				env["BELAY_ROLLBACK_TO"] = to.Version
			}
			out = append(out, hook.Spec{Name: "post_rollback", Command: h.PostRollback, Dir: dir, Env: env})
		}
	}
	return out
}

// planView is the part of a release plan a rollout needs.
type planView struct {
	ReleaseID      string
	Service        string
	Version        string
	Digest         string
	MigrationType  string
	Owner          string
	PreviousStable string   // in the rollout's environment; "" for a first release
	RollbackAction []string // the plan's rollback_action lines
	AdoptedBy      string   // who asked the release to adopt drift ("": it did not)
}

func (p planView) String() string { return fmt.Sprintf("%s of %s", p.Version, p.Service) }
