package infra

import "github.com/belay-dev/belay/internal/spec"

// Provisioned reports whether env's stack names a server belay provisions
// resources on (a component of service_stack with an admin_url_secret):
// the release path then checks the stack before deploying there.
func Provisioned(p *spec.Project, env string) bool {
	e := p.Environment(env)
	if e == nil {
		return false
	}
	comps := p.ServiceStack.Components()
	for c, ps := range e.Stack {
		if _, ok := comps[c]; ok && ps["admin_url_secret"] != "" {
			return true
		}
	}
	return false
}
