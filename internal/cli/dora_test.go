package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
)

func TestPrintDORA(t *testing.T) {
	num := func(f float64) *float64 { return &f }
	to := time.Date(2026, 12, 31, 10, 0, 0, 0, time.UTC)
	rep := api.DORAReport{Service: "api", Environment: "production", Since: "30d", From: to.Add(-30 * 24 * time.Hour), To: to,
		DeploymentFrequency: api.DORAFrequency{Deployments: 5, PerDay: 5.0 / 30, PerWeek: 7 * 5.0 / 30},
		LeadTime:            api.DORADurations{N: 4, MedianSeconds: num(3 * 3600), P90Seconds: num(18*3600 + 59)},
		LeadTimeUnknown:     1,
		ChangeFailureRate:   api.DORARate{Changes: 7, Failed: 3, Rate: num(3.0 / 7), Rollouts: []int64{4, 6, 9}},
		TimeToRestore:       api.DORADurations{N: 2, MedianSeconds: num(135), P90Seconds: num(171), Rollouts: []int64{5, 6}},
		Unrestored:          []int64{9},
	}
	var b strings.Builder
	if err := printDORA(&b, rep); err != nil {
		t.Fatal(err)
	}
	want := `api in production over 30d (2026-12-01 10:00 → 2026-12-31 10:00 UTC)
FIGURE                         VALUE                      N
deployment frequency           0.17 a day, 1.17 a week    5 deployments
lead time (commit → deployed)  median 3h 0m, p90 18h 0m   4 deployments (1 without a build record)
change failure rate            43% (3 of 7)               7 changes; failed: #4 #6 #9
time to restore                median 2m 15s, p90 2m 51s  2 restores; not restored: #9
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}

	b.Reset()
	if err := printDORA(&b, api.DORAReport{Environment: "staging", Since: "1w", From: to.Add(-7 * 24 * time.Hour), To: to}); err != nil {
		t.Fatal(err)
	}
	want = `every service in staging over 1w (2026-12-24 10:00 → 2026-12-31 10:00 UTC)
FIGURE                         VALUE                    N
deployment frequency           0.00 a day, 0.00 a week  0 deployments
lead time (commit → deployed)  no data                  0 deployments
change failure rate            no data                  0 changes
time to restore                no data                  0 restores
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
