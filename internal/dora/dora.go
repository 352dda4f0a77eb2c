// Package dora computes the four DORA figures — deployment frequency, lead
// time, change failure rate and time to restore — of an environment from the
// rollouts belay recorded there: Compute is the pure arithmetic, Load reads
// its inputs from a store.
package dora

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/belay-dev/belay/internal/rollout"
)

// Rollout is what the figures need of one rollout.
type Rollout struct {
	ID          int64
	Service     string
	Environment string
	Version     string
	// Phase is where it ended; rollouts that have not ended (any phase but
	// Succeeded, RolledBack and Failed) are ignored.
	Phase rollout.Phase
	// Manual marks a rollback rollout (`belay rollback` with no release in
	// flight): a restore, never a deployment. Version is the one it rolls
	// back.
	Manual  bool
	Started time.Time // when it was created
	Ended   time.Time // when it entered Phase
	// Deployed: the new version was started in the environment (the
	// rollout entered Deploying), so ending it needed a rollback.
	Deployed bool
	// WentBad is when it first entered RollingBack (zero: never).
	WentBad time.Time
	// Built is when the change began: its artifact's commit time, else (for
	// artifacts recorded before belay kept it) its build (zero: unknown).
	Built time.Time
}

// Durations summarises a set of durations; Median and P90 mean nothing when
// N is 0 ("no data", not zero).
type Durations struct {
	N           int
	Median, P90 time.Duration
}

// Figures are the four figures of one window.
type Figures struct {
	From, To time.Time
	// Deployments counts the release rollouts that ended Succeeded in the
	// window; PerDay and PerWeek divide it by the window's length.
	Deployments     int
	PerDay, PerWeek float64
	// LeadTime is, per deployment whose artifact's build time is known,
	// build → Succeeded; LeadTimeUnknown counts the others.
	LeadTime        Durations
	LeadTimeUnknown int
	// Changes counts the deployments that finished in the window: ended
	// Succeeded, or RolledBack or Failed after the new version was started.
	// Failures are those of them that ended RolledBack or Failed, or that
	// a later `belay rollback` rolled back; FailureRate is Failures ÷
	// Changes, nil when Changes is 0.
	Changes, Failures int
	FailureRate       *float64
	FailedRollouts    []int64
	// TimeToRestore is, per rollback that ended RolledBack in the window,
	// from when the deployment went bad (it entered RollingBack) or the
	// `belay rollback` was asked for, until the version rolled back to took
	// all traffic. Unrestored lists failed deployments that ended Failed:
	// belay did not restore them.
	TimeToRestore Durations
	Restores      []int64
	Unrestored    []int64
}

// Compute works out the figures of the window [from, to] from rs, which may
// hold rollouts of several services (each is followed on its own) and
// rollouts outside the window (ignored, except that a `belay rollback` in
// the window marks the deployment it rolled back).
func Compute(rs []Rollout, from, to time.Time) Figures {
	f := Figures{From: from, To: to}
	in := func(t time.Time) bool { return !t.Before(from) && !t.After(to) }
	sorted := slices.Clone(rs)
	slices.SortStableFunc(sorted, func(a, b Rollout) int {
		return cmp.Or(a.Started.Compare(b.Started), cmp.Compare(a.ID, b.ID))
	})
	type key struct{ service, env string }
	last := map[key]Rollout{} // each environment's latest Succeeded deployment
	var lead, restore []time.Duration
	for _, r := range sorted {
		if !r.Phase.Terminal() || r.Started.After(to) {
			continue
		}
		k := key{r.Service, r.Environment}
		if r.Manual {
			// It rolls back the version serving: the deployment of it that
			// succeeded last failed, if that ended in the window.
			if d, ok := last[k]; ok && d.Version == r.Version && in(d.Ended) {
				f.Failures++
				f.FailedRollouts = append(f.FailedRollouts, d.ID)
			}
			delete(last, k)
			if r.Phase == rollout.RolledBack && in(r.Ended) {
				restore = append(restore, r.Ended.Sub(r.Started))
				f.Restores = append(f.Restores, r.ID)
			}
			continue
		}
		switch {
		case r.Phase == rollout.Succeeded:
			last[k] = r
			if !in(r.Ended) {
				continue
			}
			f.Deployments++
			f.Changes++
			if r.Built.IsZero() || r.Built.After(r.Ended) {
				f.LeadTimeUnknown++
			} else {
				lead = append(lead, r.Ended.Sub(r.Built))
			}
		case r.Deployed && in(r.Ended): // RolledBack or Failed with the new version started
			f.Changes++
			f.Failures++
			f.FailedRollouts = append(f.FailedRollouts, r.ID)
			if r.Phase == rollout.RolledBack && !r.WentBad.IsZero() {
				restore = append(restore, r.Ended.Sub(r.WentBad))
				f.Restores = append(f.Restores, r.ID)
			} else if r.Phase == rollout.Failed {
				f.Unrestored = append(f.Unrestored, r.ID)
			}
		}
	}
	if days := to.Sub(from).Hours() / 24; days > 0 {
		f.PerDay = float64(f.Deployments) / days
		f.PerWeek = f.PerDay * 7
	}
	if f.Changes > 0 {
		rate := float64(f.Failures) / float64(f.Changes)
		f.FailureRate = &rate
	}
	slices.Sort(f.FailedRollouts)
	f.LeadTime, f.TimeToRestore = summarise(lead), summarise(restore)
	return f
}

// summarise returns the median and 90th percentile of ds, each interpolated
// linearly between the two nearest ranks (as numpy's default and Excel's
// PERCENTILE.INC do).
func summarise(ds []time.Duration) Durations {
	s := Durations{N: len(ds)}
	if len(ds) == 0 {
		return s
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	s.Median, s.P90 = percentile(sorted, 0.5), percentile(sorted, 0.9)
	return s
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	pos := p * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo+1 >= len(sorted) {
		return sorted[lo]
	}
	frac := pos - float64(lo)
	return sorted[lo] + time.Duration(math.Round(frac*float64(sorted[lo+1]-sorted[lo])))
}
