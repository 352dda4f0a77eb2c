package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/auth"
	"github.com/belay-dev/belay/internal/dora"
	"github.com/belay-dev/belay/internal/orchestrate"
)

// getDORA answers GET /api/v1/dora?service=S&environment=E&since=30d: the
// DORA figures of S (every service when absent) in E (default: the last
// environment in promotion order) over the window that ends now.
func (s *Server) getDORA(r *http.Request) (any, error) {
	q := r.URL.Query()
	since := q.Get("since")
	if since == "" {
		since = dora.DefaultWindow
	}
	window, err := dora.ParseWindow(since)
	if err != nil {
		return nil, fmt.Errorf("%w: since: %w", orchestrate.ErrBadRequest, err)
	}
	env, err := s.doraEnvironment(q.Get("environment"))
	if err != nil {
		return nil, err
	}
	if err := s.allow(r, auth.Read, env); err != nil {
		return nil, err
	}
	to := s.d.Now().UTC()
	from := to.Add(-window)
	rs, err := dora.Load(r.Context(), s.d.Store, q.Get("service"), env, from)
	if err != nil {
		return nil, err
	}
	return doraReport(dora.Compute(rs, from, to), q.Get("service"), env, since), nil
}

// doraEnvironment is the environment named, which belay.yaml must define,
// else the last in promotion order.
func (s *Server) doraEnvironment(named string) (string, error) {
	p, err := s.Project()
	if err != nil {
		if named != "" {
			return named, nil // the records stand without the file
		}
		return "", fmt.Errorf("%w: name an environment: belay.yaml, which orders them, does not load: %w", orchestrate.ErrBadRequest, err)
	}
	names := p.EnvironmentNames()
	switch {
	case named == "" && len(names) > 0:
		return names[len(names)-1], nil
	case !slices.Contains(names, named):
		return "", fmt.Errorf("%w: environment %q is not defined in belay.yaml; defined: %s", orchestrate.ErrBadRequest, named, strings.Join(names, ", "))
	}
	return named, nil
}

func doraReport(f dora.Figures, service, env, since string) api.DORAReport {
	return api.DORAReport{
		Service: service, Environment: env, Since: since, From: f.From, To: f.To,
		DeploymentFrequency: api.DORAFrequency{Deployments: f.Deployments, PerDay: f.PerDay, PerWeek: f.PerWeek},
		LeadTime:            durations(f.LeadTime, nil),
		LeadTimeUnknown:     f.LeadTimeUnknown,
		ChangeFailureRate:   api.DORARate{Changes: f.Changes, Failed: f.Failures, Rate: f.FailureRate, Rollouts: f.FailedRollouts},
		TimeToRestore:       durations(f.TimeToRestore, f.Restores),
		Unrestored:          f.Unrestored,
	}
}

func durations(d dora.Durations, rollouts []int64) api.DORADurations {
	out := api.DORADurations{N: d.N, Rollouts: rollouts}
	if d.N > 0 {
		median, p90 := d.Median.Seconds(), d.P90.Seconds()
		out.MedianSeconds, out.P90Seconds = &median, &p90
	}
	return out
}
