package agent

import (
	"net/http"
	"sort"
	"strconv"
)

// SDGroup is one target group of Prometheus HTTP service discovery
// (http_sd_configs): the instances of one version of a service, labelled
// so that their own metrics carry service, version and environment.
type SDGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// ServiceDiscovery lists every instance the agent runs, one group per
// version of each service in each environment, in a stable order.
func (a *Agent) ServiceDiscovery() []SDGroup {
	a.mu.Lock()
	ss := make([]*service, 0, len(a.services))
	for _, s := range a.services {
		ss = append(ss, s)
	}
	a.mu.Unlock()
	out := []SDGroup{}
	for _, s := range ss {
		s.mu.Lock()
		for _, v := range s.versions {
			g := SDGroup{Targets: []string{}, Labels: map[string]string{
				"service": s.key.service, "version": v.spec.Version, "environment": s.key.env}}
			for _, in := range v.instances {
				g.Targets = append(g.Targets, "127.0.0.1:"+strconv.Itoa(in.port))
			}
			if len(g.Targets) > 0 {
				out = append(out, g)
			}
		}
		s.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Labels, out[j].Labels
		if a["environment"] != b["environment"] {
			return a["environment"] < b["environment"]
		}
		if a["service"] != b["service"] {
			return a["service"] < b["service"]
		}
		return a["version"] < b["version"]
	})
	return out
}

func (a *Agent) serveSD(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, a.ServiceDiscovery(), nil)
}
