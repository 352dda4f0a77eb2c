package spec

import "strings"

// Pipeline is the seed's CI/CD pipeline: three ordered stages of step names,
// each name defined once in Steps.
type Pipeline struct {
	PullRequest []string         `yaml:"pull_request" json:"pull_request"`
	MainBranch  []string         `yaml:"main_branch" json:"main_branch"`
	Deploy      []string         `yaml:"deploy" json:"deploy"`
	Steps       map[string]*Step `yaml:"steps" json:"steps" belay:"required"`
}

// Step is what one pipeline step does: exactly one of Run (a shell command),
// Gate (a built-in check) or Deploy (an environment to deploy to).
type Step struct {
	Run    string `yaml:"run" json:"run,omitempty"`
	Gate   Gate   `yaml:"gate" json:"gate,omitempty"`
	Deploy string `yaml:"deploy" json:"deploy,omitempty"`
	// Impact is what a failure of this step does to the release.
	Impact  Impact   `yaml:"impact" json:"impact" belay:"required"`
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Parallel runs the step at once with the parallel steps next to it
	// in its stage (belay ci run).
	Parallel bool `yaml:"parallel" json:"parallel,omitempty"`
	// Report names scanners' JSON reports, relative to the project, that
	// gate dependency_audit (osv-scanner, Trivy, Grype, govulncheck) or
	// container_scan (Trivy, Grype) judges; earlier steps write them.
	Report []string `yaml:"report" json:"report,omitempty"`
}

// Stages returns the stages in order with their names.
func (p *Pipeline) Stages() []Stage {
	return []Stage{{"pull_request", p.PullRequest}, {"main_branch", p.MainBranch}, {"deploy", p.Deploy}}
}

// Stage is one named, ordered list of steps.
type Stage struct {
	Name  string   `json:"name"`
	Steps []string `json:"steps"`
}

func (d *decoder) checkPipeline(p *Project) {
	pl := p.Pipeline
	if pl == nil {
		return
	}
	used := map[string]bool{}
	defined := sortedKeys(pl.Steps)
	for _, st := range pl.Stages() {
		seen := map[string]bool{}
		for i, name := range st.Steps {
			path := index("pipeline."+st.Name, i)
			switch {
			case seen[name]:
				d.errAt(path, "step %q is listed twice in %s", name, st.Name)
			case pl.Steps[name] == nil:
				d.errAt(path, "step %q is not defined%s: add it under pipeline.steps with run:, gate: or deploy:", name, suggest(name, defined))
			}
			seen[name], used[name] = true, true
		}
	}
	d.checkDeployOrder(p)
	for _, name := range defined {
		s, path := pl.Steps[name], "pipeline.steps."+name
		if s == nil {
			continue
		}
		if !used[name] {
			d.errAt(path, "step %q is defined but not listed in pull_request, main_branch or deploy", name)
		}
		n := btoi(s.Run != "") + btoi(s.Gate != "") + btoi(s.Deploy != "")
		if n != 1 && !d.hasErrUnder(path) {
			d.errAt(path, "a step needs exactly one of run:, gate: or deploy:, found %d", n)
		}
		switch {
		case len(s.Report) > 0 && s.Gate != GateDependencyAudit && s.Gate != GateContainerScan:
			d.errAt(path+".report", "report: is read by gate dependency_audit or container_scan only")
		}
		if s.Deploy != "" && p.Environment(s.Deploy) == nil {
			d.errAt(path+".deploy", "environment %q is not defined%s; defined: %s", s.Deploy, suggest(s.Deploy, p.EnvironmentNames()), listOrNone(p.EnvironmentNames()))
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkDeployOrder refuses a pipeline that deploys to an environment before
// one that comes earlier in promotion order.
func (d *decoder) checkDeployOrder(p *Project) {
	rank := map[string]int{}
	for i, e := range p.Environments {
		if e != nil {
			rank[e.Name] = i
		}
	}
	last, lastEnv := -1, ""
	for _, st := range p.Pipeline.Stages() {
		for i, name := range st.Steps {
			s := p.Pipeline.Steps[name]
			if s == nil || s.Deploy == "" {
				continue
			}
			r, ok := rank[s.Deploy]
			if !ok {
				continue // reported on the step
			}
			if r < last {
				d.errAt(index("pipeline."+st.Name, i), "step %q deploys to %s after %s: environments are promoted in order %s",
					name, s.Deploy, lastEnv, strings.Join(p.EnvironmentNames(), ", "))
			}
			if r > last {
				last, lastEnv = r, s.Deploy
			}
		}
	}
}
