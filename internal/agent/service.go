package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/agent/health"
	"github.com/belay-dev/belay/internal/agent/proxy"
	"github.com/belay-dev/belay/internal/agent/supervise"
	"github.com/belay-dev/belay/internal/target"
)

// service is one service in one environment: its proxy and its versions.
type service struct {
	a        *Agent
	key      key
	applyMu  sync.Mutex // one change at a time
	mu       sync.Mutex // guards the fields below and table rebuilds
	desired  target.Desired
	versions []*version
	proxy    *proxy.Proxy
	listener *proxy.Listener
	stats    map[string]*proxy.Stats       // per version name, kept across generations
	shadows  map[string]*proxy.ShadowStats // per shadow version name, likewise
	// holdTable keeps the table empty while a restore waits for its
	// instances, so that routing resumes with every version at once rather
	// than with the first version to answer taking all traffic.
	holdTable bool
	replay    *replayer // running while the desired shadow replays; under applyMu
	// logs ships the instances' logs while the desired state asks for it;
	// changed under applyMu and mu, read under mu.
	logs     *forwarder
	logStats *logStats // nil until logs were first forwarded
	// logsMu makes a rotation and a forwarder starting or stopping happen
	// one after the other, so that no rotation escapes the offsets.
	logsMu sync.Mutex
	// retiring are the versions retire drains and stops: out of versions,
	// their instances still write their logs. Under mu.
	retiring map[*version]bool
}

func newService(a *Agent, k key) *service {
	return &service{a: a, key: k, proxy: proxy.New(a.log.With("service", k.service, "env", k.env)), stats: map[string]*proxy.Stats{}, shadows: map[string]*proxy.ShadowStats{}}
}

func (s *service) apply(ctx context.Context, want target.Desired) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if want.KeepLogs { // the forwarding in force stays, and is persisted as such
		s.mu.Lock()
		want.Logs, want.KeepLogs = s.desired.Logs, false
		s.mu.Unlock()
	}
	if err := s.ensureListener(want.Listen); err != nil {
		return err
	}
	want.Listen = s.listener.Addr()

	s.mu.Lock()
	current := append([]*version(nil), s.versions...)
	s.mu.Unlock()
	byName := map[string]*version{}
	for _, v := range current {
		byName[v.spec.Version] = v
	}
	next := make([]*version, 0, len(want.Versions))
	var started []*version
	for _, wv := range want.Versions {
		if v, ok := byName[wv.Version]; ok && v.sameRun(wv) {
			h := wv.Health
			v.health.Store(&h) // the health loop picks it up at its next check
			next = append(next, v)
			continue
		}
		v, err := s.startVersion(ctx, wv, time.Now().UnixNano(), nil)
		if err == nil {
			err = s.waitHealthy(ctx, v)
		}
		if err != nil {
			for _, sv := range append(started, v) {
				if sv != nil {
					s.stopVersion(sv)
				}
			}
			return err
		}
		started = append(started, v)
		next = append(next, v)
	}
	s.mu.Lock()
	for i, v := range next {
		v.weight = want.Versions[i].Weight
	}
	s.desired, s.versions = want, next
	s.rebuildLocked()
	s.mu.Unlock()
	s.syncReplay(want.Shadow)
	s.syncLogs(want.Logs)
	if err := s.a.persist(); err != nil {
		s.a.log.Error("persist desired state", "err", err)
	}
	s.retire(current, next, want.DrainTimeout)
	return nil
}

// retire drains and stops the generations of old that next does not keep.
func (s *service) retire(old, next []*version, drain time.Duration) {
	keep := map[*version]bool{}
	for _, v := range next {
		keep[v] = true
	}
	var wg sync.WaitGroup
	for _, v := range old {
		if !keep[v] {
			s.mu.Lock()
			if s.retiring == nil {
				s.retiring = map[*version]bool{}
			}
			s.retiring[v] = true
			s.mu.Unlock()
			wg.Go(func() {
				s.drain(v, drain)
				s.stopVersion(v)
				s.mu.Lock()
				delete(s.retiring, v)
				s.mu.Unlock()
			})
		}
	}
	wg.Wait()
	s.mu.Lock()
	for name := range s.stats {
		if !s.hasVersionLocked(name) {
			delete(s.stats, name)
		}
	}
	for name := range s.shadows {
		if !s.hasVersionLocked(name) {
			delete(s.shadows, name)
		}
	}
	s.mu.Unlock()
}

func (s *service) hasVersionLocked(name string) bool {
	for _, v := range s.versions {
		if v.spec.Version == name {
			return true
		}
	}
	return false
}

// drain waits until the version's in-flight requests have finished, or the
// drain timeout. It runs after the table without v was swapped in; the proxy
// counts a request in flight from the moment it picks a route, and a
// request that picked the old table but is not counted yet routes again by
// the new one (proxy.Proxy.begin), so an idle count means v serves nothing.
func (s *service) drain(v *version, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for v.inFlight() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := v.inFlight(); n > 0 {
		s.a.log.Warn("drain timeout; stopping with requests in flight", "version", v.spec.Version, "in_flight", n)
	}
}

func (s *service) ensureListener(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener != nil && (addr == s.desired.Listen || sameAddr(addr, s.listener.Addr()) || strings.HasSuffix(addr, ":0")) {
		return nil // port 0 asks for any port: the one bound already will do
	}
	ln, err := s.a.cfg.Sockets.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: %s/%s: %w", target.ErrInvalid, s.key.env, s.key.service, proxy.ListenError(addr, err))
	}
	if s.listener != nil {
		old := s.listener.Addr()
		_ = s.listener.Close()
		if err := s.a.cfg.Sockets.Release("tcp", old); err != nil {
			s.a.log.Warn("release listener", "addr", old, "err", err)
		}
	}
	s.listener = proxy.Serve(ln, s.proxy, s.a.log)
	return nil
}

// sameAddr reports whether listen address a is the one bound as b: equal,
// or on the same port of every address (0.0.0.0:80 is bound as [::]:80).
func sameAddr(a, b string) bool {
	if a == b {
		return true
	}
	ah, ap, err1 := net.SplitHostPort(a)
	bh, bp, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || ap != bp {
		return false
	}
	any := func(h string) bool { ip := net.ParseIP(h); return h == "" || ip != nil && ip.IsUnspecified() }
	return any(ah) && any(bh)
}

// startVersion opens the artifact and starts the version's instances.
// ports, when given, are the ports of instances to adopt (on restore).
func (s *service) startVersion(ctx context.Context, wv target.Version, gen int64, ports []int) (*version, error) {
	dir, err := s.a.cfg.Opener.Open(ctx, wv.Artifact)
	if err != nil {
		return nil, fmt.Errorf("%w: %s/%s version %s: artifact %q: %v", target.ErrArtifact, s.key.env, s.key.service, wv.Version, wv.Artifact, err)
	}
	path, err := resolveCommand(dir, wv.Run.Command)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	st, ok := s.stats[wv.Version]
	if !ok {
		st = &proxy.Stats{}
		s.stats[wv.Version] = st
	}
	s.mu.Unlock()
	v := &version{spec: wv, gen: gen, dir: dir, stats: st}
	h := wv.Health
	v.health.Store(&h)
	for i := range wv.Instances {
		port := 0
		if i < len(ports) {
			port = ports[i]
		}
		in, err := s.startInstance(v, i, path, port)
		if err != nil {
			s.stopVersion(v)
			return nil, err
		}
		v.instances = append(v.instances, in)
	}
	return v, nil
}

func (s *service) startInstance(v *version, i int, path string, port int) (*instance, error) {
	runDir := s.a.dir("run", s.key.env, s.key.service, safe(v.spec.Version)+"."+strconv.FormatInt(v.gen, 10))
	pidPath := filepath.Join(runDir, strconv.Itoa(i)+".pid")
	var adopt *supervise.PidFile
	if port != 0 {
		adopt, _ = supervise.ReadPidFile(pidPath)
	}
	if port == 0 || !adopt.Alive() {
		p, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("%s/%s version %s: no free port: %w", s.key.env, s.key.service, v.spec.Version, err)
		}
		port, adopt = p, nil
	}
	logPath := s.a.dir("logs", s.key.env, s.key.service, safe(v.spec.Version), strconv.Itoa(i)+".log")
	spec := supervise.Spec{
		Path: path, Args: v.spec.Run.Args, Env: instanceEnv(s.key, v.spec, port), Dir: v.dir,
		LogPath: logPath, PidPath: pidPath, Grace: v.spec.Run.GracePeriod, Limits: supervise.DefaultLimits,
	}
	log := s.a.log.With("service", s.key.service, "env", s.key.env, "version", v.spec.Version, "instance", i, "port", port)
	in := &instance{idx: i, port: port, logPath: logPath, done: make(chan struct{})}
	// A crash takes the instance out of the pool at once; the health loop
	// brings it back once the restarted process passes its check.
	spec.OnExit = func() { s.setReady(in, false) }
	in.proc = supervise.Start(spec, log, adopt)
	in.backend = s.proxy.NewBackend(v.spec.Version, "127.0.0.1:"+strconv.Itoa(port), v.stats)
	ctx, cancel := context.WithCancel(s.a.ctx)
	in.stop = cancel
	go s.watch(ctx, v, in)
	return in, nil
}

// waitHealthy waits until every instance of v passed its health check.
func (s *service) waitHealthy(ctx context.Context, v *version) error {
	deadline := time.Now().Add(v.spec.Health.HealthTimeout)
	for v.ready() < len(v.instances) {
		if time.Now().After(deadline) {
			var notReady *instance
			for _, in := range v.instances {
				if !in.ready.Load() {
					notReady = in
					break
				}
			}
			return fmt.Errorf("%w: %s/%s version %s: %d of %d instances healthy after %v; last log lines of instance %d:\n%s",
				target.ErrUnhealthy, s.key.env, s.key.service, v.spec.Version, v.ready(), len(v.instances),
				v.spec.Health.HealthTimeout, notReady.idx, s.a.redact.String(lastLines(notReady.logPath, 20)))
		}
		if !sleepCtx(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}
	return nil
}

// watch health-checks one instance for as long as it runs.
func (s *service) watch(ctx context.Context, v *version, in *instance) {
	defer close(in.done)
	tr := health.Tracker{}
	started := in.proc.StartedAt()
	addr := in.backend.Addr
	for {
		h := *v.health.Load()
		tr.Threshold = h.UnhealthyThreshold
		if in.proc.Pid() == 0 || !in.proc.StartedAt().Equal(started) {
			// The process exited or was restarted: out of the pool until it passes again.
			started = in.proc.StartedAt()
			tr.Reset()
			s.setReady(in, false)
		} else {
			err := s.a.prober.Probe(ctx, healthCheck(h), addr)
			if ctx.Err() != nil {
				return
			}
			change, counted := tr.Observe(err == nil)
			if counted {
				v.failures.Add(1)
			}
			switch change {
			case health.Ready:
				s.setReady(in, true)
			case health.Unhealthy:
				s.a.log.Warn("instance unhealthy; restarting", "service", s.key.service, "version", v.spec.Version, "instance", in.idx, "err", err)
				s.setReady(in, false)
				in.proc.Restart()
			}
		}
		interval := h.Interval
		if !tr.Ready() {
			interval = min(interval, 50*time.Millisecond) // join the pool quickly after a start
		}
		if !sleepCtx(ctx, interval) {
			return
		}
	}
}

func (s *service) setReady(in *instance, ready bool) {
	if in.ready.Swap(ready) == ready {
		return
	}
	s.mu.Lock()
	s.rebuildLocked()
	s.mu.Unlock()
}

// rebuildLocked builds and swaps the routing table from the versions'
// weights in force and their ready instances.
func (s *service) rebuildLocked() {
	if s.holdTable {
		return
	}
	routes := make([]*proxy.Route, 0, len(s.versions))
	for _, v := range s.versions {
		r := &proxy.Route{Version: v.spec.Version, Weight: v.weight, Stats: v.stats}
		for _, in := range v.instances {
			if in.ready.Load() {
				r.Backends = append(r.Backends, in.backend)
			}
		}
		routes = append(routes, r)
	}
	var sticky proxy.Sticky
	if st := s.desired.Sticky; st != nil {
		sticky = proxy.Sticky{Header: st.Header, Cookie: st.Cookie}
	}
	t := proxy.NewTable(routes, sticky, s.desired.VersionHeader)
	s.proxy.Swap(t.WithShadow(s.shadowLocked(routes)))
}

// shadowLocked is the proxy's shadow for the desired state, or nil.
func (s *service) shadowLocked(routes []*proxy.Route) *proxy.Shadow {
	sh := s.desired.Shadow
	if sh == nil {
		return nil
	}
	st, ok := s.shadows[sh.Version]
	if !ok {
		st = &proxy.ShadowStats{}
		s.shadows[sh.Version] = st
	}
	out := &proxy.Shadow{Version: sh.Version, Stats: st, Share: sh.Share / 100, Methods: sh.Methods,
		MaxInFlight: sh.MaxInFlight, MaxRate: sh.MaxRate, Replay: sh.Replay != "", DropHeaders: sh.DropHeaders}
	for _, r := range routes {
		if r.Version == sh.Version {
			out.Backends = r.Backends
		}
	}
	return out
}

// stopVersion stops the health loops and the processes of v.
func (s *service) stopVersion(v *version) {
	var wg sync.WaitGroup
	for _, in := range v.instances {
		in.stop()
		<-in.done
		in.ready.Store(false)
		wg.Go(func() {
			in.proc.Stop()
			in.backend.Close()
		})
	}
	wg.Wait()
	_ = os.RemoveAll(s.a.dir("run", s.key.env, s.key.service, safe(v.spec.Version)+"."+strconv.FormatInt(v.gen, 10)))
}

// shutdown ends routing; with stopInstances it also stops every process.
func (s *service) shutdown(stopInstances bool) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.syncReplay(nil)
	s.stopLogs() // the offsets stay for the next agent
	s.mu.Lock()
	vs, l := s.versions, s.listener
	s.mu.Unlock()
	if l != nil {
		// Requests in flight finish; the socket may live on in the keeper
		// for the next agent, which takes the connections queued meanwhile.
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		_ = l.Shutdown(ctx)
		cancel()
	}
	for _, v := range vs {
		if stopInstances {
			s.stopVersion(v)
			continue
		}
		for _, in := range v.instances {
			in.stop()
			<-in.done
			in.proc.Detach()
		}
	}
	if !stopInstances {
		return
	}
	s.proxy.CloseIdle()
}

// shutdownGrace bounds how long a stopping agent lets requests in flight
// finish before it closes their connections.
const shutdownGrace = 10 * time.Second

var unsafeRE = regexp.MustCompile(`[^A-Za-z0-9._-]`)

func safe(name string) string { return unsafeRE.ReplaceAllString(name, "_") }
