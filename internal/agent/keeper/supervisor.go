package keeper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/belay-dev/belay/internal/atomicfile"
)

var (
	// ErrNotRunning is returned by Upgrade when Run is not running.
	ErrNotRunning = errors.New("keeper: the supervisor is not running")
	// ErrStopping is returned when a child would start during a stop.
	ErrStopping = errors.New("keeper: the supervisor is stopping")
	// ErrBusy is returned by Upgrade while another upgrade is under way.
	ErrBusy = errors.New("keeper: an upgrade is already under way")
	// ErrNoChild is returned by Upgrade while no child is serving (it is
	// between crash-loop restarts); the next restart runs the binary on disk.
	ErrNoChild = errors.New("keeper: no child is serving")
	// ErrUpgrade wraps the reason an upgrade's new child was not taken on.
	ErrUpgrade = errors.New("keeper: upgrade failed; the old child keeps serving")
)

// Supervisor runs a child command under a Keeper and restarts it. Set its
// fields, then call Run once.
type Supervisor struct {
	Keeper *Keeper // nil: Run makes one; Run closes it when it returns
	// Path is the binary to exec, default os.Executable(), resolved once
	// at start so that an upgrade execs the file now at that path. That
	// default has symlinks resolved: if upgrades swap a symlink, set Path
	// to the link.
	Path string
	Args []string // argv including argv[0]; empty: just Path
	Env  []string // added to os.Environ()
	// Stdout and Stderr take the child's output; nil means the keeper's
	// own. An *os.File is passed to the child as it is.
	Stdout, Stderr io.Writer
	Log            *slog.Logger
	// ChildPIDFile, when set, holds the serving child's pid; it is
	// replaced whenever that changes and removed when Run returns.
	ChildPIDFile string
	MinUptime    time.Duration // a child that dies sooner is a quick crash (default 1s)
	ReadyTimeout time.Duration // how long an upgrade waits for Ready (default 30s)
	StopTimeout  time.Duration // SIGKILL this long after SIGTERM on stop (default 30s)

	mu        sync.Mutex
	running   bool
	stopping  bool
	childStop syscall.Signal // what stopping children get (0: SIGTERM)
	upgrading bool
	serving   *child
	pending   *child // an upgrade's new child, not yet Ready
	live      map[*child]struct{}
	changed   chan struct{} // an upgrade replaced the serving child

	path           string
	log            *slog.Logger
	stdout, stderr *os.File
	closers        []io.Closer
	pidMu          sync.Mutex // orders writes of ChildPIDFile
}

func (s *Supervisor) minUptime() time.Duration    { return orDefault(s.MinUptime, time.Second) }
func (s *Supervisor) readyTimeout() time.Duration { return orDefault(s.ReadyTimeout, 30*time.Second) }
func (s *Supervisor) stopTimeout() time.Duration  { return orDefault(s.StopTimeout, 30*time.Second) }

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// ChildPID returns the serving child's pid, or 0 if none.
func (s *Supervisor) ChildPID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.serving == nil {
		return 0
	}
	return s.serving.pid
}

// Run starts the child and supervises it until ctx is done or SIGTERM,
// SIGINT, SIGUSR1 or SIGUSR2 arrives; SIGHUP upgrades (see Upgrade). A child that
// exits is restarted at once, with a growing delay while it keeps dying
// within MinUptime. On stop every child gets SIGTERM (SIGKILL after
// StopTimeout), the Keeper is closed and Run returns nil; after SIGUSR2
// children get SIGUSR1 instead, the hand-over signal, so that the agent
// leaves its service instances running (`belay down --keep-services`).
func (s *Supervisor) Run(ctx context.Context) error {
	if err := s.begin(); err != nil {
		return err
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	c, err := s.start()
	if err != nil {
		return errors.Join(err, s.finish())
	}
	s.promote(c)
	return s.loop(ctx, sigs)
}

// begin resolves the defaults once, so that an upgrade execs whatever file
// is at the same path by then.
func (s *Supervisor) begin() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running || s.stopping {
		return errors.New("keeper: Run called twice; a Supervisor runs once")
	}
	s.path, s.log = s.Path, s.Log
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.path == "" {
		p, err := os.Executable()
		if err != nil {
			return fmt.Errorf("keeper: find the binary to run (set Path): %w", err)
		}
		s.path = p
	}
	if s.Keeper == nil {
		s.Keeper = New(s.log)
	}
	var err error
	if s.stdout, err = s.output(s.Stdout, os.Stdout); err == nil {
		s.stderr, err = s.output(s.Stderr, os.Stderr)
	}
	if err != nil {
		return fmt.Errorf("keeper: child output: %w", err)
	}
	if s.ChildPIDFile != "" {
		if err := os.MkdirAll(filepath.Dir(s.ChildPIDFile), 0o755); err != nil {
			return fmt.Errorf("keeper: child pid file: %w", err)
		}
	}
	s.live, s.changed, s.running = map[*child]struct{}{}, make(chan struct{}, 1), true
	return nil
}

// loop waits for the serving child to exit and restarts it, until a stop.
func (s *Supervisor) loop(ctx context.Context, sigs <-chan os.Signal) error {
	quick := 0                 // consecutive quick crashes
	var retry <-chan time.Time // set while a restart is due
	for {
		var exited <-chan struct{}
		cur := s.current()
		if cur != nil {
			exited = cur.done
		}
		select {
		case <-ctx.Done():
			return s.stop("context done")
		case sig := <-sigs:
			if s.onSignal(ctx, sig) {
				return s.stopWith(sig)
			}
		case <-s.changed:
		case <-exited:
			if !s.lost(cur) {
				continue
			}
			// A Ctrl-C reaches the child too; do not restart it then.
			if why, stop := s.stopRequested(ctx, sigs); stop {
				return s.stop(why)
			}
			quick = quickCrashes(quick, cur.uptime(), s.minUptime())
			retry = s.after(restartDelay(quick), quick)
		case <-retry:
			retry = nil
			if s.current() != nil {
				continue // an upgrade's child took over meanwhile
			}
			c, err := s.start()
			if err != nil {
				s.log.Error("keeper: restart failed", "err", err)
				quick++
				retry = s.after(restartDelay(quick), quick)
				continue
			}
			s.promote(c)
		}
	}
}

// after logs the coming restart and returns when it is due.
func (s *Supervisor) after(d time.Duration, quick int) <-chan time.Time {
	if d > 0 {
		s.log.Warn("keeper: child keeps crashing; restarting after a delay", "in", d, "quick_crashes", quick)
	} else {
		s.log.Info("keeper: restarting child")
	}
	return time.After(d)
}

// quickCrashes counts consecutive quick crashes, given the count so far and
// how long the child that just exited ran.
func quickCrashes(sofar int, uptime, minUptime time.Duration) int {
	if uptime >= minUptime {
		return 0
	}
	return sofar + 1
}

// restartDelay is the pause before restarting after quick consecutive quick
// crashes: none for a child that ran a while, or for a first quick crash
// (the crash path must be fast), then 100ms doubling up to 5s.
func restartDelay(quick int) time.Duration {
	if quick <= 1 {
		return 0
	}
	d := 100 * time.Millisecond
	for i := 2; i < quick && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// onSignal handles sig and reports whether it asks for a stop.
func (s *Supervisor) onSignal(ctx context.Context, sig os.Signal) bool {
	if sig != syscall.SIGHUP {
		return true
	}
	s.log.Info("keeper: SIGHUP: upgrading")
	go func() { _ = s.Upgrade(ctx) }() // Upgrade logs its own failure
	return false
}

// stopRequested handles signals already queued, without waiting.
func (s *Supervisor) stopRequested(ctx context.Context, sigs <-chan os.Signal) (string, bool) {
	for {
		select {
		case <-ctx.Done():
			return "context done", true
		case sig := <-sigs:
			if s.onSignal(ctx, sig) {
				if sig == syscall.SIGUSR2 {
					s.mu.Lock()
					s.childStop = syscall.SIGUSR1
					s.mu.Unlock()
				}
				return sig.String(), true
			}
		default:
			return "", false
		}
	}
}

func (s *Supervisor) current() *child {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serving
}

// promote makes c the serving child, unless an upgrade's child took over
// while c was starting: then c is told to hand over (drain and exit) as an
// upgraded-away child would be.
func (s *Supervisor) promote(c *child) {
	s.mu.Lock()
	other := s.serving
	if other == nil {
		s.serving = c
	}
	s.mu.Unlock()
	if other != nil {
		s.log.Info("keeper: an upgrade's child is serving; the restarted child hands over", "pid", c.pid, "serving", other.pid)
		c.signal(syscall.SIGUSR1)
		return
	}
	s.writePIDFile()
}

// lost handles the exit of c, which was serving when the loop began to
// wait, and reports whether a restart is needed. An upgrade may have
// replaced c meanwhile (nothing to do), or be waiting for its new child to
// be Ready: that child is already running, so it takes over at once.
func (s *Supervisor) lost(c *child) bool {
	s.mu.Lock()
	if s.serving != c {
		s.mu.Unlock()
		return false
	}
	next := s.pending
	if next != nil && (next == c || isClosed(next.done)) {
		next = nil
	}
	s.serving = next
	s.mu.Unlock()
	if next == nil {
		return true
	}
	s.log.Warn("keeper: serving child exited during an upgrade; the new child takes over", "pid", next.pid)
	s.writePIDFile()
	return false
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// stop ends Run: every child is stopped, the listeners closed.
func (s *Supervisor) stop(why string) error {
	s.log.Info("keeper: stopping", "reason", why)
	return s.finish()
}

// stopWith stops on a signal; SIGUSR2 passes the hand-over signal on.
func (s *Supervisor) stopWith(sig os.Signal) error {
	if sig == syscall.SIGUSR2 {
		s.mu.Lock()
		s.childStop = syscall.SIGUSR1
		s.mu.Unlock()
	}
	return s.stop(sig.String())
}

func (s *Supervisor) finish() error {
	s.mu.Lock()
	s.stopping = true
	kids := make([]*child, 0, len(s.live))
	for c := range s.live {
		kids = append(kids, c)
	}
	s.serving = nil
	s.mu.Unlock()
	s.terminate(kids)
	err := s.Keeper.Close()
	for _, c := range s.closers {
		c.Close()
	}
	if s.ChildPIDFile != "" {
		s.pidMu.Lock()
		if rerr := os.Remove(s.ChildPIDFile); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		s.pidMu.Unlock()
	}
	s.mu.Lock()
	s.running = false
	s.mu.Unlock()
	return err
}

// writePIDFile records the serving child's pid. pidMu orders the writers,
// and each writes the pid current when it holds it, so the last write is
// always the latest pid.
func (s *Supervisor) writePIDFile() {
	if s.ChildPIDFile == "" {
		return
	}
	s.pidMu.Lock()
	defer s.pidMu.Unlock()
	pid := s.ChildPID()
	if pid == 0 {
		return
	}
	if err := atomicfile.Write(s.ChildPIDFile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		s.log.Warn("keeper: child pid file", "err", err)
	}
}
