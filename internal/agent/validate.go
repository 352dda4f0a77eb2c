package agent

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"time"

	"github.com/belay-dev/belay/internal/agent/proxy"
	"github.com/belay-dev/belay/internal/target"
)

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	tokenRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	methodRE = regexp.MustCompile(`^[A-Z]{1,20}$`)
)

func stickyField(d *target.Desired, cookie bool) string {
	switch {
	case d.Sticky == nil:
		return ""
	case cookie:
		return d.Sticky.Cookie
	}
	return d.Sticky.Header
}

// validate checks a desired state and fills in defaults. No versions at all
// is valid: it stops every instance of the service and routes nothing.
func validate(d *target.Desired) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s/%s: %s", target.ErrInvalid, d.Environment, d.Service, fmt.Sprintf(format, args...))
	}
	if !nameRE.MatchString(d.Environment) || !nameRE.MatchString(d.Service) {
		return bad("environment and service must be names of letters, digits, '.', '_' or '-'")
	}
	if d.Listen == "" {
		return bad("listen address missing: give the proxy's address, e.g. 127.0.0.1:8080")
	}
	for what, h := range map[string]string{"version_header": d.VersionHeader, "sticky.header": stickyField(d, false), "sticky.cookie": stickyField(d, true)} {
		if h != "" && !tokenRE.MatchString(h) {
			return bad("%s %q: not a valid header or cookie name (letters, digits, '-', '_')", what, h)
		}
	}
	if d.DrainTimeout <= 0 {
		d.DrainTimeout = 30 * time.Second
	}
	seen := map[string]bool{}
	var sum float64
	for i := range d.Versions {
		v := &d.Versions[i]
		if !nameRE.MatchString(v.Version) {
			return bad("version %q: not a valid version name", v.Version)
		}
		if seen[v.Version] {
			return bad("version %q listed twice", v.Version)
		}
		seen[v.Version] = true
		if v.Weight < 0 || v.Weight > 100 || math.IsNaN(v.Weight) {
			return bad("version %s: weight %v outside 0–100", v.Version, v.Weight)
		}
		sum += v.Weight
		if v.Instances <= 0 {
			v.Instances = 1
		}
		if v.Run.Command == "" {
			return bad("version %s: run.command missing", v.Version)
		}
		defaultsHealth(&v.Health)
		if v.Run.GracePeriod <= 0 {
			v.Run.GracePeriod = 10 * time.Second
		}
	}
	if len(d.Versions) > 0 && math.Abs(sum-100) > 0.001 {
		return bad("weights add up to %v%%, want 100%%", sum)
	}
	if err := validateLogs(d.Logs, bad); err != nil {
		return err
	}
	return validateShadow(d, bad)
}

// validateLogs checks the endpoint logs are shipped to.
func validateLogs(l *target.LogForward, bad func(string, ...any) error) error {
	if l == nil {
		return nil
	}
	u, err := url.Parse(l.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("logs url %q: not an http:// or https:// URL", endpoint(l.URL))
	}
	return nil
}

// validateShadow checks that the shadow names a version taking no traffic.
func validateShadow(d *target.Desired, bad func(string, ...any) error) error {
	sh := d.Shadow
	if sh == nil {
		return nil
	}
	if sh.Share <= 0 || sh.Share > 100 || math.IsNaN(sh.Share) {
		return bad("shadow share %v%% outside (0, 100]", sh.Share)
	}
	if sh.MaxInFlight < 0 || sh.MaxRate < 0 || math.IsNaN(sh.MaxRate) {
		return bad("shadow bounds max_in_flight %d, max_rate %v must not be negative", sh.MaxInFlight, sh.MaxRate)
	}
	for _, m := range sh.Methods {
		if !methodRE.MatchString(m) {
			return bad("shadow method %q: not an HTTP method name in capitals", m)
		}
	}
	if err := validateReplay(d, bad); err != nil {
		return err
	}
	for _, v := range d.Versions {
		if v.Version != sh.Version {
			continue
		}
		if v.Weight != 0 {
			return bad("shadow version %s takes %v%% of traffic; a shadow takes none (weight 0)", v.Version, v.Weight)
		}
		return nil
	}
	return bad("shadow version %q is not one of the versions", sh.Version)
}

// validateReplay checks that a replay reads another environment's sample,
// at a rate the agent can keep, and fills in the default rate.
func validateReplay(d *target.Desired, bad func(string, ...any) error) error {
	sh := d.Shadow
	if sh.Replay == "" {
		if sh.ReplayRate != 0 || len(sh.DropHeaders) > 0 {
			return bad("shadow replay_rate and drop_headers apply only to a replay: set shadow.replay to the environment whose requests to replay")
		}
		return nil
	}
	if !nameRE.MatchString(sh.Replay) {
		return bad("shadow replay %q: not a valid environment name", sh.Replay)
	}
	if sh.Replay == d.Environment {
		return bad("shadow replay %q is this environment: name another environment whose requests to replay, or drop replay to mirror this one's", sh.Replay)
	}
	if sh.ReplayRate < 0 || sh.ReplayRate > maxReplayRate || math.IsNaN(sh.ReplayRate) {
		return bad("shadow replay_rate %v outside 0–%d requests per second", sh.ReplayRate, maxReplayRate)
	}
	if sh.ReplayRate == 0 {
		c := *sh // the caller's Desired keeps what it said
		c.ReplayRate = proxy.DefaultReplayRate
		d.Shadow = &c
	}
	for _, h := range sh.DropHeaders {
		if !tokenRE.MatchString(h) {
			return bad("shadow drop_headers %q: not a valid header name (letters, digits, '-', '_')", h)
		}
	}
	return nil
}

const maxReplayRate = 10000

func defaultsHealth(h *target.Health) {
	if h.Interval <= 0 {
		h.Interval = time.Second
	}
	if h.Timeout <= 0 {
		h.Timeout = 2 * time.Second
	}
	if h.UnhealthyThreshold <= 0 {
		h.UnhealthyThreshold = 3
	}
	if h.HealthTimeout <= 0 {
		h.HealthTimeout = time.Minute
	}
}
