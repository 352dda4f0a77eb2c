// Package agent is belay's data plane on one host: it runs the versions of
// services as supervised processes, routes each service's traffic between
// its versions by weight through a measuring reverse proxy, health-checks
// every instance continuously, and keeps its desired state on disk so that a
// restarted agent takes over the instances that kept running.
package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/agent/health"
	"github.com/belay-dev/belay/internal/secret"
	"github.com/belay-dev/belay/internal/target"
)

// Opener turns an artifact reference into a directory holding the unpacked,
// verified artifact. An artifact that is missing or fails verification is an
// error (the agent reports it as target.ErrArtifact).
type Opener interface {
	Open(ctx context.Context, ref string) (dir string, err error)
}

// Config configures an Agent.
type Config struct {
	StateDir    string // desired state, pid files and instance logs live here
	Opener      Opener
	Log         *slog.Logger
	LogMaxBytes int64            // rotate an instance's log above this size (default 10 MiB)
	LogKeep     int              // rotated copies kept (default 3)
	Now         func() time.Time // clock stamping counters (default time.Now)
	Sockets     Sockets          // where listeners come from (default: bound by this process)
	// Log forwarding (target.Desired.Logs): lines per batch (default 500),
	// how often the files are read when there is less than a batch
	// (default 1s), and the backoff after a refused batch (100ms doubling
	// to 30s by default).
	LogBatchLines                              int
	LogForwardInterval                         time.Duration
	LogForwardMinBackoff, LogForwardMaxBackoff time.Duration
}

// Agent runs services on this host. Its methods are safe for concurrent use.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	prober   *health.Prober
	mu       sync.Mutex // guards services and the state file
	services map[key]*service
	redact   secret.Redactor // secret values of every version applied
	ctx      context.Context // lives as long as the agent; health loops hang off it
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

type key struct{ env, service string }

// New returns an agent with no services; call Restore to bring back the
// state a previous agent persisted.
func New(cfg Config) (*Agent, error) {
	if cfg.StateDir == "" || cfg.Opener == nil {
		return nil, errors.New("agent: StateDir and Opener are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.LogMaxBytes <= 0 {
		cfg.LogMaxBytes = 10 << 20
	}
	if cfg.LogKeep <= 0 {
		cfg.LogKeep = 3
	}
	if cfg.LogBatchLines <= 0 {
		cfg.LogBatchLines = 500
	}
	if cfg.LogForwardInterval <= 0 {
		cfg.LogForwardInterval = time.Second
	}
	if cfg.LogForwardMinBackoff <= 0 {
		cfg.LogForwardMinBackoff = 100 * time.Millisecond
	}
	if cfg.LogForwardMaxBackoff < cfg.LogForwardMinBackoff {
		cfg.LogForwardMaxBackoff = max(30*time.Second, cfg.LogForwardMinBackoff)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sockets == nil {
		cfg.Sockets = bindHere{}
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("agent: state directory: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{cfg: cfg, log: cfg.Log, prober: health.NewProber(), services: map[key]*service{}, ctx: ctx, cancel: cancel}
	a.wg.Add(1)
	go a.rotateLogs()
	return a, nil
}

// Apply makes one service in one environment match want: new versions are
// started and must become healthy before any traffic moves; then weights
// change atomically; then versions no longer wanted are drained and stopped.
// With no versions in want, everything is drained and stopped, and the
// service's address answers 503 until versions are applied again (Remove
// also gives up the address). On error, versions that were serving keep
// serving as they were.
func (a *Agent) Apply(ctx context.Context, want target.Desired) error {
	if err := validate(&want); err != nil {
		return err
	}
	a.learnSecrets(want)
	s := a.service(key{want.Environment, want.Service})
	return s.apply(ctx, want)
}

// learnSecrets makes the agent redact want's secret values from the logs
// and errors it shows.
func (a *Agent) learnSecrets(want target.Desired) {
	for _, v := range want.Versions {
		for name, val := range v.Run.SecretEnv {
			a.redact.Add(name, val)
		}
	}
	if l := want.Logs; l != nil && l.Token != "" {
		a.redact.Add(cmp.Or(l.TokenSecret, "log_forwarding token"), l.Token)
	}
}

// Remove drains and stops every version of a service and forgets it.
func (a *Agent) Remove(ctx context.Context, env, svc string) error {
	a.mu.Lock()
	s, ok := a.services[key{env, svc}]
	delete(a.services, key{env, svc})
	a.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: service %q in environment %q", target.ErrNotFound, svc, env)
	}
	s.shutdown(true)
	if addr := s.desired.Listen; addr != "" {
		if err := a.cfg.Sockets.Release("tcp", addr); err != nil {
			a.log.Warn("release listener", "addr", addr, "err", err)
		}
	}
	return a.persist()
}

// Observe reports what runs for a service.
func (a *Agent) Observe(_ context.Context, env, svc string) (target.Observed, error) {
	s, err := a.lookup(env, svc)
	if err != nil {
		return target.Observed{}, err
	}
	return s.observe(), nil
}

// Counters reports cumulative per-version measurements.
func (a *Agent) Counters(_ context.Context, env, svc string) ([]target.Counters, error) {
	s, err := a.lookup(env, svc)
	if err != nil {
		return nil, err
	}
	return s.counters(a.cfg.Now()), nil
}

// Close stops routing and health checking. With stopInstances the service
// processes are stopped too; without, they keep running for the next agent
// to adopt.
func (a *Agent) Close(stopInstances bool) {
	a.mu.Lock()
	ss := make([]*service, 0, len(a.services))
	for _, s := range a.services {
		ss = append(ss, s)
	}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Go(func() { s.shutdown(stopInstances) })
	}
	wg.Wait()
	a.cancel()
	a.wg.Wait()
}

func (a *Agent) lookup(env, svc string) (*service, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.services[key{env, svc}]
	if !ok {
		return nil, fmt.Errorf("%w: service %q in environment %q is not deployed on this agent", target.ErrNotFound, svc, env)
	}
	return s, nil
}

func (a *Agent) service(k key) *service {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.services[k]
	if !ok {
		s = newService(a, k)
		a.services[k] = s
	}
	return s
}

func (a *Agent) sorted() []*service {
	a.mu.Lock()
	defer a.mu.Unlock()
	ss := make([]*service, 0, len(a.services))
	for _, s := range a.services {
		ss = append(ss, s)
	}
	sort.Slice(ss, func(i, j int) bool {
		if ss[i].key.env != ss[j].key.env {
			return ss[i].key.env < ss[j].key.env
		}
		return ss[i].key.service < ss[j].key.service
	})
	return ss
}

func (a *Agent) rotateLogs() {
	defer a.wg.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
		for _, s := range a.sorted() {
			for _, p := range s.logPaths("") {
				if err := s.rotateLog(p, a.cfg.LogMaxBytes, a.cfg.LogKeep); err != nil {
					a.log.Warn("rotate log", "path", p, "err", err)
				}
			}
		}
	}
}

func (a *Agent) dir(parts ...string) string {
	return filepath.Join(append([]string{a.cfg.StateDir}, parts...)...)
}
