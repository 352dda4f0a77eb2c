// Package server is belay's control plane over HTTP: the JSON API under
// /api/v1 and the event stream, in front of the release orchestrator, with
// the wiring of the state store, the target, the artifact store and the
// analysis by name. It decides nothing itself: internal/orchestrate does.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/audit"
	"github.com/belay-dev/belay/internal/auth"
	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/orchestrate"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/secret"
	"github.com/belay-dev/belay/internal/slo"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/target"
)

// Artifacts is what the server needs from the artifact store.
type Artifacts = orchestrate.Artifacts

// DefaultTick is how often the engine looks at every rollout. A canary
// with the builtin source is judged at every tick, so at 100 canary
// requests/s a regression is judged on ≈ 25 new requests at a time rather
// than 100 (the sequential test is valid however often it looks).
const DefaultTick = 250 * time.Millisecond

// Deps are the server's parts, wired by name in the CLI.
type Deps struct {
	Store       store.Store
	Target      target.Target
	Judge       rollout.Judge
	Artifacts   Artifacts
	Events      *event.File // JSON-lines copy of every event; may be nil
	ProjectFile string
	Tick        time.Duration // engine tick; default DefaultTick
	Now         func() time.Time
	Logger      *slog.Logger
	// TokenFile is where the local CLI reads its token (named in 401 answers).
	TokenFile string
	// AuditKey signs the audit log's checkpoints: the server's own key
	// (audit.LoadKey), never an artifact signing key.
	AuditKey *audit.Key
	// Secrets are the environments' secrets (nil: none can be kept); its
	// Redactor hides their values in every answer and event.
	Secrets *secret.Store
	// TLS, when not nil, is what the API is served over (apitls); nil
	// serves plain HTTP, for loopback only.
	TLS *tls.Config
	// Getenv reads the variables event sinks name for their keys; default
	// os.Getenv.
	Getenv func(string) string
	// Holder names this server in the store's leases (an event sink's
	// delivery). One name per server home (`belay server` holds the home's
	// lock), so that a server restarted after a crash takes its own leases
	// back at once instead of waiting for them to expire; default
	// host/pid/random, unique to this process.
	Holder string
	// SLO gives the reader of a service's SLO windows (slo.go); default
	// SLOReaders over Store. SLOSampleEvery is how often the builtin
	// source samples the agent's counters (default slo.DefaultSampleEvery).
	SLO            func(a *spec.Analysis) (slo.Reader, error)
	SLOSampleEvery time.Duration
	// BackupCheckEvery is how often the server looks for due backups
	// (default a minute).
	BackupCheckEvery time.Duration
	// DriftInterval is how often the server checks the environments'
	// infrastructure for drift (drift.go); 0: never.
	DriftInterval time.Duration
}

// Server holds the control plane's state.
type Server struct {
	d      Deps
	orch   *orchestrate.Orchestrator
	notify *broadcast // wakes event followers
	// failures limits failed authentications per client address.
	failures *auth.Limiter
	policy   policyLog // environments' protection as last audited
	// flagsPoll is how often an OFREP change stream reads belay.yaml
	// (0: changesPoll).
	flagsPoll time.Duration
	metrics   *metrics
	// sinkPoll and sinkBackoff, when set, replace the event sinks' poll
	// interval and first backoff (tests).
	sinkPoll, sinkBackoff time.Duration
	dash                  dashState // the web dashboard's session key and caches
	// sloCache keeps the dashboard's SLO statuses for sloTTL (slo.go).
	sloMu    sync.Mutex
	sloCache map[string]sloEntry
	// lastLeader is the leader this server last saw (leader.go), to log a
	// change once.
	lastLeader string
}

// New wires the engine and returns a server.
func New(d Deps) (*Server, error) {
	if d.Store == nil || d.Target == nil || d.Judge == nil || d.Artifacts == nil || d.ProjectFile == "" || d.AuditKey == nil {
		return nil, errors.New("server: Store, Target, Judge, Artifacts, ProjectFile and AuditKey are required")
	}
	if d.Tick <= 0 {
		d.Tick = DefaultTick
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Getenv == nil {
		d.Getenv = os.Getenv
	}
	if d.Holder == "" {
		d.Holder = holderName()
	}
	if d.SLO == nil {
		d.SLO = (&SLOReaders{Samples: d.Store, Now: d.Now}).For
	}
	s := &Server{d: d, notify: newBroadcast(), failures: auth.NewLimiter(failBurst, failEvery), metrics: newMetrics(d.Store, d.Logger)}
	o, err := orchestrate.New(orchestrate.Deps{
		Store: d.Store, Target: d.Target, Judge: s.metrics.judge(d.Judge), Artifacts: d.Artifacts,
		Project: s.Project, Published: s.published, Now: d.Now, Logger: d.Logger, Secrets: d.Secrets,
	})
	if err != nil {
		return nil, err
	}
	s.orch = o
	return s, nil
}

// holderName is host/pid/random: unique per server process.
func holderName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)
}

// Project loads belay.yaml as it is now: edits apply to the next release.
func (s *Server) Project() (*spec.Project, error) { return spec.Load(s.d.ProjectFile) }

// published hears of events once they are stored with their change: it
// copies them to the JSON-lines file (which keeps each ID once), wakes
// the followers of the event stream and the event sinks, and counts them
// in the metrics.
func (s *Server) published(ctx context.Context, evs []event.Event) {
	if s.d.Events != nil {
		for _, e := range evs {
			if err := s.d.Events.Emit(ctx, e); err != nil {
				s.d.Logger.Warn("event file", "err", err)
			}
		}
	}
	s.notify.wake()
	s.metrics.published(ctx, evs)
}

// syncBack is how many of the newest stored events a starting server copies
// to the JSON-lines file; far fewer than the IDs the file remembers, so an
// event already there is never written twice.
const syncBack = 1000

// syncEventFile copies to the JSON-lines file the stored events a crash
// may have kept from it (stored, not yet copied): the file skips IDs it has.
func (s *Server) syncEventFile(ctx context.Context) {
	if s.d.Events == nil {
		return
	}
	var tail []store.Event
	for after := int64(0); ; {
		evs, err := s.d.Store.EventsSince(ctx, after, syncBack)
		if err != nil {
			s.d.Logger.Warn("event file not synced", "err", err)
			return
		}
		if len(evs) == 0 {
			break
		}
		tail = append(tail, evs...)
		tail = tail[max(0, len(tail)-syncBack):]
		after = evs[len(evs)-1].ID
	}
	for _, e := range tail {
		var ev event.Event
		if json.Unmarshal(e.Data, &ev) != nil || ev.ID == "" {
			continue
		}
		if err := s.d.Events.Emit(ctx, ev); err != nil {
			s.d.Logger.Warn("event file", "err", err)
			return
		}
	}
}

// Serve runs the API on ln and the engine until ctx ends, then shuts down
// gracefully. Rollouts in flight are persisted and resume at the next start.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog: slog.NewLogLogger(s.d.Logger.Handler(), slog.LevelWarn)} // TLS handshakes refused, among others
	if s.d.TLS != nil {
		// http.Server answers a plain HTTP request on a TLS connection
		// with 400 "Client sent an HTTP request to an HTTPS server".
		ln = tls.NewListener(ln, s.d.TLS)
	}
	s.syncEventFile(ctx)
	s.sealAudit(ctx)
	if err := s.auditPolicy(ctx); err != nil {
		s.d.Logger.Error("policy", "err", err) // writes are refused until it can be audited
	}
	sinkCtx, stopSinks := context.WithCancel(ctx)
	sinksDone := s.startSinks(sinkCtx)
	defer func() { stopSinks(); sinksDone() }()
	engineCtx, stopEngine := context.WithCancel(ctx)
	defer stopEngine()
	engineDone := make(chan struct{})
	go func() { s.lead(engineCtx); close(engineDone) }()
	go s.sampleSLOs(engineCtx)
	go s.runBackups(engineCtx)
	go s.watchDrift(engineCtx)
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-serveErr: // the engine stops too, and gives its lead up
		stopEngine()
		<-engineDone
		return fmt.Errorf("api server: %w", err)
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := hs.Shutdown(shut)
	<-engineDone
	return err
}

// Orchestrator exposes the release orchestrator (tests drive ticks by hand).
func (s *Server) Orchestrator() *orchestrate.Orchestrator { return s.orch }

// broadcast wakes every waiter when something new happened.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func newBroadcast() *broadcast { return &broadcast{ch: make(chan struct{})} }

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcast) wake() {
	b.mu.Lock()
	close(b.ch)
	b.ch = make(chan struct{})
	b.mu.Unlock()
}
