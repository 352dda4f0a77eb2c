// Package server is belay's control plane: the HTTP/JSON API under /api/v1,
// the rollout engine loop, and the wiring between the state store, the
// target, the artifact store and the analysis.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/target"
)

// Artifacts is what the server needs from the artifact store.
type Artifacts interface {
	// Verify checks a version (digests and signature) and returns its digest.
	Verify(ctx context.Context, version string) (digest string, err error)
	// Open returns a verified, unpacked, read-only tree of the artifact.
	Open(ctx context.Context, ref string) (dir string, err error)
}

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
}

// Server holds the control plane's state.
type Server struct {
	d      Deps
	engine *rollout.Engine
	notify *broadcast // wakes event followers
	mu     sync.Mutex // serialises release creation and manual rollbacks
}

// New wires the engine and returns a server.
func New(d Deps) (*Server, error) {
	if d.Store == nil || d.Target == nil || d.Judge == nil || d.Artifacts == nil || d.ProjectFile == "" {
		return nil, errors.New("server: Store, Target, Judge, Artifacts and ProjectFile are required")
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
	s := &Server{d: d, notify: newBroadcast()}
	rs := rolloutStore{st: d.Store}
	if f, ok := d.Judge.(interface{ Forget(id string) }); ok {
		rs.finished = f.Forget // a finished rollout's analysis state is no longer needed
	}
	eng, err := rollout.NewEngine(rollout.Deps{
		Store: rs, Target: d.Target, Judge: d.Judge,
		Smoke: smokeRunner{s}, Hooks: hookRunner{s}, Verifier: verifier{s}, Stable: stableMarker{s},
		Sink: s, Now: d.Now, Logger: d.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.engine = eng
	return s, nil
}

// Project loads belay.yaml as it is now: edits apply to the next release.
func (s *Server) Project() (*spec.Project, error) { return spec.Load(s.d.ProjectFile) }

// Emit stores an event, appends it to the JSON-lines file, and wakes followers.
func (s *Server) Emit(ctx context.Context, e event.Event) error {
	if e.Time.IsZero() {
		e.Time = s.d.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := s.d.Store.AppendEvent(ctx, b, e.Time); err != nil {
		return err
	}
	if s.d.Events != nil {
		if err := s.d.Events.Emit(ctx, e); err != nil {
			s.d.Logger.Warn("event file", "err", err)
		}
	}
	s.notify.wake()
	return nil
}

var _ event.Sink = (*Server)(nil)

// Serve runs the API on ln and the engine until ctx ends, then shuts down
// gracefully. Rollouts in flight are persisted and resume at the next start.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	engineDone := make(chan error, 1)
	go func() { engineDone <- s.engine.Run(ctx, s.d.Tick) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("api server: %w", err)
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := hs.Shutdown(shut)
	<-engineDone
	return err
}

// Engine exposes the rollout engine (tests drive ticks by hand).
func (s *Server) Engine() *rollout.Engine { return s.engine }

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
