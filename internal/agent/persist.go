package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/agent/supervise"
	"github.com/belay-dev/belay/internal/atomicfile"
	"github.com/belay-dev/belay/internal/target"
)

// state is what the agent keeps on disk: per service the desired state
// applied last, and per version the generation and instance ports in force
// so that a restarted agent finds the processes to adopt.
type state struct {
	Services []savedService `json:"services"`
}

type savedService struct {
	Desired  target.Desired `json:"desired"`
	Versions []savedVersion `json:"versions"`
}

type savedVersion struct {
	Version string `json:"version"`
	Gen     int64  `json:"gen"`
	Ports   []int  `json:"ports"`
}

func (a *Agent) statePath() string { return a.dir("desired.json") }

// persist writes the state of every service atomically.
func (a *Agent) persist() error {
	var st state
	for _, s := range a.sorted() {
		s.mu.Lock()
		ss := savedService{Desired: s.desired}
		for _, v := range s.versions {
			sv := savedVersion{Version: v.spec.Version, Gen: v.gen}
			for _, in := range v.instances {
				sv.Ports = append(sv.Ports, in.port)
			}
			ss.Versions = append(ss.Versions, sv)
		}
		s.mu.Unlock()
		if ss.Desired.Service != "" { // else its first apply failed: nothing to restore
			st.Services = append(st.Services, ss)
		}
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return atomicfile.Write(a.statePath(), b, 0o600)
}

// Restore brings back the persisted state: listeners, routing, and the
// instances, adopted when their processes still run and started otherwise.
// Processes recorded for versions no longer wanted are stopped. A service
// that cannot be restored is logged and skipped; the others still serve.
func (a *Agent) Restore(ctx context.Context) error {
	b, err := os.ReadFile(a.statePath())
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("agent: read state: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("agent: state file %s is damaged (%v): move it away to start empty", a.statePath(), err)
	}
	keep := map[string]bool{}
	for _, ss := range st.Services {
		for _, sv := range ss.Versions {
			keep[a.dir("run", ss.Desired.Environment, ss.Desired.Service, safe(sv.Version)+"."+fmt.Sprint(sv.Gen))] = true
		}
	}
	a.killStrays(keep)
	var wg sync.WaitGroup
	for _, ss := range st.Services {
		wg.Go(func() {
			if err := a.restoreService(ctx, ss); err != nil {
				a.log.Error("restore service", "env", ss.Desired.Environment, "service", ss.Desired.Service, "err", err)
			}
		})
	}
	wg.Wait()
	// Instances started anew (their processes were gone) listen on new
	// ports: record them, or the next agent would adopt these processes at
	// the old ports and never find them healthy.
	return a.persist()
}

func (a *Agent) restoreService(ctx context.Context, ss savedService) error {
	want := ss.Desired
	a.learnSecrets(want)
	if err := validate(&want); err != nil {
		return err
	}
	s := a.service(key{want.Environment, want.Service})
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	saved := map[string]savedVersion{}
	for _, sv := range ss.Versions {
		saved[sv.Version] = sv
	}
	var vs []*version
	for _, wv := range want.Versions {
		sv := saved[wv.Version]
		v, err := s.startVersion(ctx, wv, sv.Gen, sv.Ports)
		if err != nil {
			a.log.Error("restore version", "version", wv.Version, "err", err)
			continue
		}
		vs = append(vs, v)
	}
	// The versions are published and the forwarder started under logsMu:
	// from then on their log files rotate, and only a forwarder keeps its
	// offsets true (and it tells the live files by the versions).
	s.logsMu.Lock()
	s.mu.Lock()
	for _, v := range vs {
		v.weight = v.spec.Weight // versions that failed to restore are skipped, so match by version
	}
	s.desired, s.versions, s.holdTable = want, vs, true
	s.mu.Unlock()
	s.syncLogsLocked(want.Logs)
	s.logsMu.Unlock()
	// Adopted instances answer their first check at once; started ones may
	// take longer, and then routing resumes with what is ready.
	deadline := time.Now().Add(restoreWait)
	for time.Now().Before(deadline) && !allReady(vs) {
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	s.holdTable = false
	s.rebuildLocked()
	s.mu.Unlock()
	s.syncReplay(want.Shadow)
	// Serve only now: under a keeper, connections that arrived while this
	// agent was down wait in the socket's queue for a table that routes them,
	// instead of getting a 503 from an empty one.
	return s.ensureListener(want.Listen)
}

// restoreWait bounds how long a restored service waits for its instances
// before it routes to those that are ready.
const restoreWait = 5 * time.Second

func allReady(vs []*version) bool {
	for _, v := range vs {
		if v.ready() < len(v.instances) {
			return false
		}
	}
	return true
}

// killStrays stops processes recorded under run/ that belong to no kept
// generation, e.g. a version that was starting when the agent died.
func (a *Agent) killStrays(keep map[string]bool) {
	_ = filepath.WalkDir(a.dir("run"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".pid") || keep[filepath.Dir(path)] {
			return nil
		}
		if pf, _ := supervise.ReadPidFile(path); pf != nil {
			a.log.Info("stopping stray instance", "pid", pf.Pid, "pidfile", path)
			pf.Kill()
		}
		_ = os.Remove(path)
		return nil
	})
}
