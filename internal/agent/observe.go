package agent

import (
	"path/filepath"
	"sort"
	"time"

	"github.com/belay-dev/belay/internal/agent/proxy"
	"github.com/belay-dev/belay/internal/agent/supervise"
	"github.com/belay-dev/belay/internal/target"
)

func (s *service) observe() target.Observed {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := target.Observed{Environment: s.key.env, Service: s.key.service, Versions: []target.ObservedVersion{}}
	if s.listener != nil {
		o.Listen = s.listener.Addr()
	}
	for _, v := range s.versions {
		o.Versions = append(o.Versions, target.ObservedVersion{
			Version: v.spec.Version, Weight: v.weight, Instances: len(v.instances), Ready: v.ready(),
			HealthFailures: v.failures.Load(), Restarts: v.restarts(),
		})
	}
	return o
}

func (s *service) counters(now time.Time) []target.Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []target.Counters{}
	for _, v := range s.versions {
		sn := v.stats.Snapshot()
		out = append(out, target.Counters{
			Version: v.spec.Version, Requests: sn.Requests, Errors: sn.Errors, InFlight: sn.InFlight,
			LatencyBounds: append([]float64(nil), proxy.LatencyBounds...), LatencyCounts: sn.Buckets,
			HealthFailures: v.failures.Load(), Restarts: v.restarts(), At: now,
			Shadow: shadowCounters(s.shadows[v.spec.Version]),
		})
	}
	return out
}

// shadowCounters reports a version's mirrored copies, if it ever had any.
func shadowCounters(st *proxy.ShadowStats) *target.ShadowCounters {
	if st == nil {
		return nil
	}
	sn := st.Snapshot()
	c := &target.ShadowCounters{Sent: sn.Sent, BothOK: sn.BothOK, NewFailed: sn.ShadowFailed, StableFailed: sn.StableFailed,
		BothFailed: sn.BothFailed, StableLatencyCounts: sn.StableBuckets, NewLatencyCounts: sn.ShadowBuckets,
		NewSlower: sn.ShadowSlower, StableSlower: sn.StableSlower}
	for i, n := range sn.Dropped {
		if n > 0 {
			if c.Dropped == nil {
				c.Dropped = map[string]int64{}
			}
			c.Dropped[proxy.DropReasonNames[i]] = n
		}
	}
	return c
}

// logPaths lists the log files of the instances of version (all when "").
func (s *service) logPaths(version string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, v := range s.versions {
		if version != "" && v.spec.Version != version {
			continue
		}
		for _, in := range v.instances {
			out = append(out, in.logPath)
		}
	}
	sort.Strings(out)
	return out
}

// liveLogs are the log files of the instances running, retiring ones too.
func (s *service) liveLogs() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	add := func(v *version) {
		for _, in := range v.instances {
			out[in.logPath] = true
		}
	}
	for _, v := range s.versions {
		add(v)
	}
	for v := range s.retiring {
		add(v)
	}
	return out
}

// LogFile is one instance's log.
type LogFile struct {
	Version  string
	Instance string
	Path     string
}

// LogFiles lists the log files of a service's instances, of one version or all.
func (a *Agent) LogFiles(env, svc, version string) ([]LogFile, error) {
	s, err := a.lookup(env, svc)
	if err != nil {
		return nil, err
	}
	var out []LogFile
	for _, p := range s.logPaths(version) {
		base := filepath.Base(p)
		out = append(out, LogFile{Version: filepath.Base(filepath.Dir(p)), Instance: base[:len(base)-len(filepath.Ext(base))], Path: p})
	}
	return out, nil
}

func rotate(path string, max int64, keep int) error { return supervise.Rotate(path, max, keep) }
