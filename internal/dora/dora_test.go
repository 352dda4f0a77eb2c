package dora

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/rollout"
)

var (
	now  = time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	from = now.Add(-30 * 24 * time.Hour) // 2026-12-01
)

func at(day, hour, minute, second int) time.Time {
	return time.Date(2026, 12, day, hour, minute, second, 0, time.UTC)
}

// history is production's record of api (and one deployment of web): two
// rollouts before the window, four deployments in it (one of them rolled
// back later by hand), an automatic rollback, a verification failure, a
// rollback that did not finish and a rollout still running.
func history() []Rollout {
	nov := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, time.UTC) }
	p := "production"
	return []Rollout{
		{ID: 1, Service: "api", Environment: p, Version: "v1", Phase: rollout.Succeeded, Started: nov(20, 9), Ended: nov(20, 12), Built: nov(19, 0)},
		{ID: 2, Service: "api", Environment: p, Version: "v2", Phase: rollout.RolledBack, Deployed: true, Started: nov(28, 9), WentBad: nov(28, 10), Ended: nov(28, 11)},
		{ID: 3, Service: "api", Environment: p, Version: "v3", Phase: rollout.Succeeded, Started: at(2, 9, 0, 0), Ended: at(2, 10, 0, 0), Built: at(2, 8, 0, 0)},
		{ID: 4, Service: "api", Environment: p, Version: "v4", Phase: rollout.Succeeded, Started: at(5, 9, 0, 0), Ended: at(5, 12, 0, 0), Built: at(4, 12, 0, 0)},
		{ID: 12, Service: "web", Environment: p, Version: "web-v1", Phase: rollout.Succeeded, Started: at(6, 7, 0, 0), Ended: at(6, 8, 0, 0), Built: at(6, 7, 0, 0)},
		{ID: 5, Service: "api", Environment: p, Version: "v4", Phase: rollout.RolledBack, Manual: true, Started: at(6, 9, 0, 0), WentBad: at(6, 9, 0, 0), Ended: at(6, 9, 3, 0)},
		{ID: 6, Service: "api", Environment: p, Version: "v5", Phase: rollout.RolledBack, Deployed: true, Started: at(10, 9, 0, 0), WentBad: at(10, 9, 20, 0), Ended: at(10, 9, 21, 30)},
		{ID: 7, Service: "api", Environment: p, Version: "v6", Phase: rollout.Failed, Started: at(11, 9, 0, 0), Ended: at(11, 9, 1, 0)},
		{ID: 8, Service: "api", Environment: p, Version: "v7", Phase: rollout.Succeeded, Started: at(12, 9, 0, 0), Ended: at(12, 15, 0, 0)},
		{ID: 9, Service: "api", Environment: p, Version: "v8", Phase: rollout.Failed, Deployed: true, Started: at(15, 9, 0, 0), WentBad: at(15, 9, 30, 0), Ended: at(15, 11, 0, 0)},
		{ID: 10, Service: "api", Environment: p, Version: "v9", Phase: rollout.Succeeded, Started: at(20, 9, 0, 0), Ended: at(20, 10, 0, 0), Built: at(20, 6, 0, 0)},
		{ID: 11, Service: "api", Environment: p, Version: "v10", Phase: rollout.Canary, Started: at(30, 9, 0, 0)},
	}
}

func TestComputeCountsEachFigureOnAHandMadeHistory(t *testing.T) {
	f := Compute(history(), from, now)
	if f.Deployments != 5 || math.Abs(f.PerDay-5.0/30) > 1e-12 || math.Abs(f.PerWeek-7*5.0/30) > 1e-12 {
		t.Errorf("deployments = %d, %g/day, %g/week; want 5 (#3 #4 #8 #10 and web's #12), %g/day", f.Deployments, f.PerDay, f.PerWeek, 5.0/30)
	}
	// Lead times 2h (#3), 24h (#4), 1h (#12), 4h (#10); #8's build time is unknown.
	if want := (Durations{N: 4, Median: 3 * time.Hour, P90: 18 * time.Hour}); f.LeadTime != want || f.LeadTimeUnknown != 1 {
		t.Errorf("lead time = %+v, %d unknown; want %+v, 1 unknown", f.LeadTime, f.LeadTimeUnknown, want)
	}
	// #4 rolled back by hand (#5), #6 rolled back automatically, #9 failed
	// during its rollback; #7 never started its version.
	if f.Changes != 7 || f.Failures != 3 || f.FailureRate == nil || *f.FailureRate != 3.0/7 || !slices.Equal(f.FailedRollouts, []int64{4, 6, 9}) {
		t.Errorf("change failures = %d of %d (rate %v, rollouts %v); want 3 of 7, rollouts [4 6 9]", f.Failures, f.Changes, f.FailureRate, f.FailedRollouts)
	}
	// #5 took 3 min from `belay rollback`, #6 90 s from going bad; #2's
	// rollback is before the window, #9 was not restored.
	if want := (Durations{N: 2, Median: 135 * time.Second, P90: 171 * time.Second}); f.TimeToRestore != want ||
		!slices.Equal(f.Restores, []int64{5, 6}) || !slices.Equal(f.Unrestored, []int64{9}) {
		t.Errorf("time to restore = %+v by %v, unrestored %v; want %+v by [5 6], unrestored [9]", f.TimeToRestore, f.Restores, f.Unrestored, want)
	}
}

func TestComputeWithoutDeploymentsHasNoData(t *testing.T) {
	for name, rs := range map[string][]Rollout{
		"no history":         nil,
		"only before window": history()[:2],
		"only a verification failure and a running rollout": {
			{ID: 7, Service: "api", Environment: "production", Version: "v6", Phase: rollout.Failed, Started: at(11, 9, 0, 0), Ended: at(11, 9, 1, 0)},
			{ID: 11, Service: "api", Environment: "production", Version: "v10", Phase: rollout.Canary, Started: at(30, 9, 0, 0)},
		},
	} {
		f := Compute(rs, from, now)
		if f.Deployments != 0 || f.PerDay != 0 || f.LeadTime.N != 0 || f.Changes != 0 || f.FailureRate != nil || f.TimeToRestore.N != 0 {
			t.Errorf("%s: %+v; want no deployment, no failure rate (nil, not 0), no lead time or restore", name, f)
		}
	}
}

// A `belay rollback` in the window of a version deployed before it is a
// restore in the window but no failure of a change in it.
func TestComputeManualRollbackOfAnEarlierDeployment(t *testing.T) {
	rs := []Rollout{
		history()[0], // v1, succeeded on 20 November
		{ID: 13, Service: "api", Environment: "production", Version: "v1", Phase: rollout.RolledBack, Manual: true,
			Started: at(1, 9, 0, 0), WentBad: at(1, 9, 0, 0), Ended: at(1, 9, 0, 40)},
	}
	f := Compute(rs, from, now)
	if f.Changes != 0 || f.Failures != 0 || f.FailureRate != nil {
		t.Errorf("changes %d, failures %d, rate %v; want none: v1 was deployed before the window", f.Changes, f.Failures, f.FailureRate)
	}
	if want := (Durations{N: 1, Median: 40 * time.Second, P90: 40 * time.Second}); f.TimeToRestore != want || !slices.Equal(f.Restores, []int64{13}) {
		t.Errorf("time to restore = %+v by %v; want %+v by [13]", f.TimeToRestore, f.Restores, want)
	}
	// A second deployment of v1 is not the one rolled back when another
	// version succeeded in between: only the version serving is.
	rs = []Rollout{
		{ID: 20, Service: "api", Environment: "production", Version: "v1", Phase: rollout.Succeeded, Started: at(2, 9, 0, 0), Ended: at(2, 10, 0, 0)},
		{ID: 21, Service: "api", Environment: "production", Version: "v2", Phase: rollout.Succeeded, Started: at(3, 9, 0, 0), Ended: at(3, 10, 0, 0)},
		{ID: 22, Service: "api", Environment: "production", Version: "v1", Phase: rollout.RolledBack, Manual: true, Started: at(4, 9, 0, 0), Ended: at(4, 9, 1, 0)},
	}
	if f := Compute(rs, from, now); f.Failures != 0 || f.Changes != 2 {
		t.Errorf("failures %d of %d; want 0 of 2: the rollback names v1, which was not serving", f.Failures, f.Changes)
	}
}

func TestPercentileInterpolates(t *testing.T) {
	s := summarise([]time.Duration{10, 1, 5})
	if s.N != 3 || s.Median != 5 || s.P90 != 9 {
		t.Errorf("summarise = %+v; want n 3, median 5, p90 9", s)
	}
	if s := summarise([]time.Duration{7}); s.Median != 7 || s.P90 != 7 {
		t.Errorf("summarise one = %+v; want 7, 7", s)
	}
}

func TestParseWindow(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "4w": 28 * 24 * time.Hour, "12h": 12 * time.Hour, "366d": MaxWindow} {
		if got, err := ParseWindow(in); err != nil || got != want {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"":      `bad window: "": give a whole number of days or weeks (30d, 4w) or a duration (12h)`,
		"30 d":  `bad window: "30 d": give a whole number of days or weeks (30d, 4w) or a duration (12h)`,
		"1.5d":  `bad window: "1.5d": give a whole number of days or weeks (30d, 4w) or a duration (12h)`,
		"0d":    `bad window: "0d": give a window longer than zero and at most 366d`,
		"-1h":   `bad window: "-1h": give a window longer than zero and at most 366d`,
		"367d":  `bad window: "367d": give a window longer than zero and at most 366d`,
		"9999w": `bad window: "9999w": give a window longer than zero and at most 366d`,
	} {
		if _, err := ParseWindow(in); err == nil || err.Error() != msg {
			t.Errorf("ParseWindow(%q) = %v; want %s", in, err, msg)
		}
	}
}
