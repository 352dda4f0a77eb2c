package spec

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/belay-dev/belay/internal/secret"
)

// checkProject runs the checks that span fields, after decoding; every
// problem is collected with the position of the field it concerns.
func (d *decoder) checkProject(p *Project) {
	if _, set := d.pos["services"]; set && len(p.Services) == 0 && !d.hasErrUnder("services") {
		d.errAt("services", "at least one service is required")
	}
	d.checkEnvironments(p)
	d.orderServices(p)
	d.checkPipeline(p)
	d.checkStack(p)
	d.checkArtifacts(p.Artifacts)
	d.checkAnalysis("analysis", p.Analysis)
	d.checkMetrics("metrics", p.Metrics)
	for _, name := range p.serviceOrder {
		s := p.Services[name]
		s.Analysis = inherit(p.Analysis, s.Analysis)
		d.checkService(p, s)
	}
	d.checkKubeAnalysis(p)
	d.checkListenClash(p)
	d.checkFlags(p)
	d.checkEvents(p.Events)
	d.checkParity(p)
	if rp := p.ReleasePlan; rp != nil {
		ms := p.Metrics
		if s := p.Services[rp.Version.Service]; s != nil {
			ms = s.Metrics // the project's and the service's, merged by checkService
		}
		d.checkReleasePlan("release_plan", rp, ms)
		if svc := rp.Version.Service; svc != "" && p.Services[svc] == nil {
			d.errAt("release_plan.version", "the release is of service %q, which is not defined%s; services: %s", svc, suggest(svc, p.serviceOrder), listOrNone(p.serviceOrder))
		}
	}
}

// orderServices names each service and remembers the file order.
func (d *decoder) orderServices(p *Project) {
	for name, s := range p.Services {
		if s == nil {
			d.errAt("services."+name, "service %q is empty: give at least run:, health_check:, rollout: and rollback_trigger:", name)
			delete(p.Services, name)
			continue
		}
		s.Name = name
		p.serviceOrder = append(p.serviceOrder, name)
	}
	sort.Slice(p.serviceOrder, func(i, j int) bool {
		a, b := d.pos["services."+p.serviceOrder[i]], d.pos["services."+p.serviceOrder[j]]
		return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
	})
}

func (d *decoder) checkArtifacts(a *Artifacts) {
	if a == nil || a.Store == "" || a.Store == "local" {
		return
	}
	rest, ok := strings.CutPrefix(a.Store, "oci://")
	host, repo, _ := strings.Cut(rest, "/")
	if !ok || host == "" || repo == "" || strings.ContainsAny(rest, " \t?#") {
		d.errAt("artifacts.store", "store %q must be local or an OCI registry URL such as oci://127.0.0.1:5000/belay", a.Store)
	}
}

func (d *decoder) checkService(p *Project, s *Service) {
	path := "services." + s.Name
	if err := checkName("service", s.Name); err != nil {
		d.errAt(path, "%v", err)
	}
	if s.HealthCheck == nil && !d.misspelt[path+".health_check"] {
		d.errAt(path, "service %q has no health_check: add e.g. health_check: {http: {path: /healthz}}; belay never promotes what it cannot check", s.Name)
	}
	d.checkHealth(path+".health_check", s.HealthCheck)
	d.checkSmoke(path+".smoke_tests", s.SmokeTests)
	d.checkRollout(path+".rollout", s.Rollout)
	d.checkRun(path+".run", s.Run)
	if s.Build != nil && s.Build.Base != "" {
		if err := checkBase(s.Build.Base); err != nil {
			d.errAt(path+".build.base", "%v", err)
		}
	}
	d.checkNamedMetrics(p, s, path)
	d.checkRollback(p, s, path)
	if m := s.Migration; m != nil && m.Type != "" && m.Type != NoMigration && m.Command == "" {
		d.errAt(path+".migration", "migration type %s needs a command:", m.Type)
	}
	if m := s.Migration; m != nil {
		for i, g := range m.Files {
			if _, err := filepath.Match(g, ""); err != nil || g == "" || filepath.IsAbs(g) || slices.Contains(strings.Split(filepath.ToSlash(g), "/"), "..") {
				d.errAt(index(path+".migration.files", i), "%q is not a glob inside the artifact, such as migrations/*.sql", g)
			}
		}
	}
	d.checkAnalysis(path+".analysis", s.Analysis)
	d.noteWritten(path+".rollout", s.Rollout)
	for _, env := range sortedKeys(s.Environments) {
		if o := s.Environments[env]; o != nil {
			d.noteWritten(path+".environments."+env+".rollout", o.Rollout)
			o.Rollout.inherit(s.Rollout)
		}
		d.checkOverride(p, path+".environments."+env, env, s.Environments[env])
	}
	d.checkKeepPrevious(p, s, path)
	d.checkShadowUse(p, s, path)
}

func (d *decoder) checkRun(path string, r *Run) {
	if r == nil {
		return
	}
	if _, set := d.pos[path+".port"]; set && (r.Port < 1 || r.Port > 65535) {
		d.errAt(path+".port", "port %d is not between 1 and 65535", r.Port)
	}
	d.checkEnv(path+".env", r.Env)
	seen := map[string]bool{}
	for i, name := range r.Secrets {
		at := fmt.Sprintf("%s.secrets[%d]", path, i)
		switch err := secret.CheckName(name); {
		case err != nil:
			d.errAt(at, "%v", err)
		case seen[name]:
			d.errAt(at, "secret %s is listed twice", name)
		case r.Env[name] != "":
			d.errAt(at, "%s is both in run.env and a secret: remove it from run.env", name)
		}
		seen[name] = true
	}
}

// checkRollback enforces rollback-first: anything that reaches production has
// triggers that say when to leave and an action that says how.
func (d *decoder) checkRollback(p *Project, s *Service, path string) {
	if len(s.RollbackTrigger) == 0 && !d.hasErrUnder(path+".rollback_trigger") && !d.misspelt[path+".rollback_trigger"] {
		var prod []string
		for _, e := range p.Environments {
			if e != nil && e.Name != "" && p.Production(e) {
				prod = append(prod, e.Name)
			}
		}
		if len(prod) > 0 {
			d.errAt(path, "service %q has no rollback_trigger, but reaches production environment %s: add e.g. rollback_trigger: [\"error_rate > 1%% for 5m\"]", s.Name, strings.Join(prod, ", "))
		}
	}
	if len(s.RollbackAction) > 0 && !slices.ContainsFunc(s.RollbackAction, func(a RollbackAction) bool { return a.Verb == ActionDeploy }) {
		d.errAt(path+".rollback_action", "rollback_action has no deploy previous_stable: a rollback always returns traffic to the previous stable; add it where it runs, e.g. [disable_flag X, deploy previous_stable]")
	}
	if len(s.RollbackTrigger) > 0 && len(s.RollbackAction) == 0 && !d.hasErrUnder(path+".rollback_action") && !d.misspelt[path+".rollback_action"] {
		d.errAt(path, "service %q has rollback triggers but no rollback_action: add rollback_action: deploy previous_stable", s.Name)
	}
}

func (d *decoder) checkAnalysis(path string, a *Analysis) {
	if a == nil {
		return
	}
	if _, set := d.pos[path+".alpha"]; set && (a.Alpha <= 0 || a.Alpha >= 0.5) {
		d.errAt(path+".alpha", "alpha %v must be above 0 and below 0.5 (e.g. 0.01)", a.Alpha)
	}
	if _, set := d.pos[path+".min_effect"]; set && a.MinEffect <= 1 {
		d.errAt(path+".min_effect", "min_effect %v must be above 1: it is the ratio of canary to stable error rate to detect (e.g. 2)", a.MinEffect)
	}
	if _, set := d.pos[path+".min_requests"]; set && a.MinRequests < 1 {
		d.errAt(path+".min_requests", "min_requests must be at least 1")
	}
	d.checkPrometheus(path, a)
}

func (d *decoder) set(path string) bool {
	_, ok := d.pos[path]
	return ok
}

// checkPrometheus: source prometheus needs a server, and a server given
// for another source would be silently unused.
func (d *decoder) checkPrometheus(path string, a *Analysis) {
	p := a.Prometheus
	switch {
	case a.Source == SourcePrometheus && p == nil:
		if path == "analysis" || d.set(path+".source") { // an inherited source is reported once, at the project
			d.errAt(path+".source", "source prometheus needs a server: add prometheus: {url: http://127.0.0.1:9090}")
		}
		return
	case a.Source != SourcePrometheus && p != nil && path != "analysis" && d.set(path+".prometheus") && !d.hasErrUnder(path+".source") &&
		!d.promUsed[strings.TrimSuffix(path, ".analysis")]:
		// (a project's prometheus may serve only the services that choose it)
		d.errAt(path+".prometheus", "prometheus settings are unused unless source is prometheus or a rollback trigger watches a named metric (metrics:): add source: prometheus, or remove them")
		return
	case p == nil:
		return
	}
	if p.URL != "" {
		if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.errAt(path+".prometheus.url", "url %q is not an http(s) address: use e.g. http://127.0.0.1:9090", p.URL)
		}
	}
	if _, set := d.pos[path+".prometheus.timeout"]; set && p.Timeout <= 0 {
		d.errAt(path+".prometheus.timeout", "timeout must be positive, e.g. 5s")
	}
}

func (d *decoder) checkOverride(p *Project, path, env string, o *Override) {
	if p.Environment(env) == nil {
		d.errAt(path, "environment %q is not defined%s; defined: %s", env, suggest(env, p.EnvironmentNames()), listOrNone(p.EnvironmentNames()))
	}
	if o == nil {
		return
	}
	if _, set := d.pos[path+".instances"]; set && o.Instances < 1 {
		d.errAt(path+".instances", "instances must be at least 1")
	}
	if o.Listen != "" {
		if e := p.Environment(env); e != nil && e.Target == TargetKubernetes {
			d.errAt(path+".listen", "listen is the local agent's proxy address and does nothing in %s, which has target: kubernetes: remove it", env)
		} else if err := checkListen(o.Listen); err != nil {
			d.errAt(path+".listen", "%v", err)
		}
	}
	d.checkRollout(path+".rollout", o.Rollout)
	d.checkEnv(path+".env", o.Env)
}

// checkListenClash refuses two services whose proxies would bind the same
// address in the same environment.
func (d *decoder) checkListenClash(p *Project) {
	type owner struct{ svc, env string }
	seen := map[string]owner{}
	for _, name := range p.serviceOrder {
		s := p.Services[name]
		for _, e := range p.Environments {
			if e == nil {
				continue
			}
			addr := e.Listen
			o := s.Environments[e.Name]
			path := "services." + name
			if o != nil && o.Listen != "" {
				addr, path = o.Listen, path+".environments."+e.Name+".listen"
			}
			if addr == "" {
				continue
			}
			if prev, dup := seen[addr]; dup {
				d.errAt(path, "listen address %s of service %q in %s is already used by service %q in %s: give each service its own listen: under environments", addr, name, e.Name, prev.svc, prev.env)
				continue
			}
			seen[addr] = owner{name, e.Name}
		}
	}
}
