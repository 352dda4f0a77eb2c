package spec

import "strings"

// HealthCheck says how belay decides an instance is healthy: exactly one of
// HTTP or TCP.
type HealthCheck struct {
	HTTP *HTTPCheck `yaml:"http" json:"http,omitempty"`
	TCP  bool       `yaml:"tcp" json:"tcp,omitempty"`
	// Interval between checks; default 2s.
	Interval Duration `yaml:"interval" json:"interval"`
	// Timeout of one check; default 1s, must be below Interval.
	Timeout Duration `yaml:"timeout" json:"timeout"`
	// UnhealthyThreshold is how many failures in a row mark it unhealthy; default 3.
	UnhealthyThreshold int `yaml:"unhealthy_threshold" json:"unhealthy_threshold"`
	// HealthTimeout is how long a new instance has to become healthy; default 60s.
	HealthTimeout Duration `yaml:"health_timeout" json:"health_timeout"`
}

// HTTPCheck is an HTTP GET health check.
type HTTPCheck struct {
	Path string `yaml:"path" json:"path" belay:"required"`
	// ExpectStatus is the status a healthy instance answers; default 200.
	ExpectStatus int `yaml:"expect_status" json:"expect_status"`
}

// Health check defaults.
const (
	DefaultInterval           = Duration(2e9)
	DefaultTimeout            = Duration(1e9)
	DefaultUnhealthyThreshold = 3
	DefaultHealthTimeout      = Duration(60e9)
)

func (d *decoder) checkHealth(path string, h *HealthCheck) {
	if h == nil {
		return
	}
	if (h.HTTP != nil) == h.TCP {
		d.errAt(path, "a health check needs exactly one of http: {path: /healthz} or tcp: true")
	}
	if h.HTTP != nil {
		d.checkPath(path+".http.path", h.HTTP.Path)
		d.checkStatus(path+".http.expect_status", h.HTTP.ExpectStatus)
	}
	if h.Interval != 0 && h.Timeout >= h.Interval {
		d.errAt(path+".timeout", "timeout %s must be shorter than interval %s", h.Timeout, h.Interval)
	}
	if h.UnhealthyThreshold < 0 {
		d.errAt(path+".unhealthy_threshold", "unhealthy_threshold must be at least 1")
	}
	for _, f := range []struct {
		name string
		v    Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}, {"health_timeout", h.HealthTimeout}} {
		if _, set := d.pos[path+"."+f.name]; set && f.v == 0 {
			d.errAt(path+"."+f.name, "%s must be positive", f.name)
		}
	}
}

func (d *decoder) checkPath(path, p string) {
	if p != "" && !strings.HasPrefix(p, "/") {
		d.errAt(path, "HTTP path %q must start with /", p)
	}
}

func (d *decoder) checkStatus(path string, s int) {
	if _, set := d.pos[path]; set && (s < 100 || s > 599) {
		d.errAt(path, "HTTP status %d is not between 100 and 599", s)
	}
}

func (h *HealthCheck) applyDefaults() {
	if h.Interval == 0 {
		h.Interval = DefaultInterval
	}
	if h.Timeout == 0 {
		h.Timeout = min(DefaultTimeout, h.Interval/2)
	}
	if h.UnhealthyThreshold == 0 {
		h.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	if h.HealthTimeout == 0 {
		h.HealthTimeout = DefaultHealthTimeout
	}
	if h.HTTP != nil && h.HTTP.ExpectStatus == 0 {
		h.HTTP.ExpectStatus = 200
	}
}
