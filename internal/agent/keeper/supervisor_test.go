package keeper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// running is a Supervisor running the test binary as its child.
type running struct {
	s      *Supervisor
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// supervise runs a Supervisor whose children are this test binary in mode;
// the keeper holds the serving address before any child starts. opts set
// fields before Run.
func supervise(t *testing.T, mode string, opts ...func(*Supervisor)) *running {
	t.Helper()
	log := testLog(t)
	k := New(log)
	ln, err := k.listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &running{addr: ln.Addr().String(), done: make(chan error, 1)}
	r.s = &Supervisor{
		Keeper: k,
		Args:   []string{os.Args[0]},
		// A race-enabled child would sleep a second at exit (atexit_sleep_ms),
		// long enough to count as a child that ran a while.
		Env: []string{envMode + "=" + mode, envAddr + "=" + r.addr,
			"GORACE=" + os.Getenv("GORACE") + " atexit_sleep_ms=0"},
		Stdout:       os.Stderr,
		Stderr:       os.Stderr,
		Log:          log,
		ReadyTimeout: 10 * time.Second,
		StopTimeout:  5 * time.Second,
	}
	for _, o := range opts {
		o(r.s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.s.Run(ctx) }()
	t.Cleanup(func() {
		pid := r.s.ChildPID()
		cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			t.Error("Run did not return after cancel")
		}
		if pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL) // a stray, should a test have failed midway
		}
	})
	return r
}

// stop cancels Run and returns its result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
		return nil
	}
}

var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// ask makes one request on a new connection and returns the answering pid
// and the value of EnvFD the child saw.
func ask(addr string) (int, string, error) {
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	lines := strings.Split(string(b), "\n")
	pid, err := strconv.Atoi(lines[0])
	if err != nil || len(lines) < 2 {
		return 0, "", fmt.Errorf("answer %q", b)
	}
	return pid, lines[1], nil
}

// serving waits until addr answers and returns the answering pid.
func serving(t *testing.T, addr string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pid, _, err := ask(addr)
		if err == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// load makes requests, each on a new connection, until stopped, and counts
// the outcomes.
type load struct {
	mu      sync.Mutex
	ok      int
	refused int
	failed  []string
	first   map[int]time.Time // first answer from each pid
	last    int               // pid of the latest answer
	stopped chan struct{}
	wg      sync.WaitGroup
}

func startLoad(addr string, workers int) *load {
	l := &load{first: map[int]time.Time{}, stopped: make(chan struct{})}
	for range workers {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stopped:
					return
				default:
				}
				pid, _, err := ask(addr)
				l.record(pid, err)
			}
		})
	}
	return l
}

func (l *load) record(pid int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		l.refused++
	case err != nil:
		l.failed = append(l.failed, err.Error())
	default:
		l.ok++
		l.last = pid
		if _, ok := l.first[pid]; !ok {
			l.first[pid] = time.Now()
		}
	}
}

func (l *load) stop() {
	close(l.stopped)
	l.wg.Wait()
}

// firstFrom waits until pid other than not answers and returns it and when.
func (l *load) firstNot(t *testing.T, not int) (int, time.Time) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for pid, at := range l.first {
			if pid != not {
				l.mu.Unlock()
				return pid, at
			}
		}
		l.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no child but %d answered within 10s", not)
	return 0, time.Time{}
}

// gone waits until pid no longer runs: it has exited, and been reaped or
// left a zombie (an orphan's reaper may be slow, or absent in a container).
func gone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still exists", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')') // the name in parentheses may hold anything
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

func TestCrashedChildIsRestartedWithoutRefusingConnections(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	r := supervise(t, "serve", func(s *Supervisor) { s.ChildPIDFile = pidFile })
	old := serving(t, r.addr)
	if got := r.s.ChildPID(); got != old {
		t.Fatalf("ChildPID %d, but %d answers", got, old)
	}
	if _, fd, _ := ask(r.addr); fd != "" {
		t.Fatalf("the child still sees %s=%s after FromEnv", EnvFD, fd)
	}

	l := startLoad(r.addr, 2)
	time.Sleep(200 * time.Millisecond)
	killed := time.Now()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pid, at := l.firstNot(t, old)
	time.Sleep(300 * time.Millisecond)
	l.stop()

	t.Logf("restart: first answer from the new child %v after kill -9; %d ok, %d refused, %d failed in flight %q",
		at.Sub(killed).Round(time.Millisecond), l.ok, l.refused, len(l.failed), l.failed)
	if l.refused != 0 {
		t.Errorf("%d connections refused while the child restarted", l.refused)
	}
	if got := r.s.ChildPID(); got != pid {
		t.Errorf("ChildPID %d, but %d answers", got, pid)
	}
	gone(t, old)
	waitFile(t, pidFile, strconv.Itoa(pid)+"\n")
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	mustBeGone(t, pidFile)
}

func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && string(b) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q, %v; want %q", path, b, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStopEndsChildAndClosesThePort(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	r := supervise(t, "serve", func(s *Supervisor) { s.ChildPIDFile = pidFile })
	pid := serving(t, r.addr)
	waitFile(t, pidFile, strconv.Itoa(pid)+"\n")
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v, want nil on a clean stop", err)
	}
	gone(t, pid)
	if _, err := net.Dial("tcp", r.addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after stop: %v, want connection refused", err)
	}
	mustBeGone(t, pidFile)
	if err := r.s.Upgrade(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Upgrade after stop: %v", err)
	}
}

// SIGTERM stops the keeper and its child with SIGTERM (the agent then stops
// its instances); SIGUSR2 stops it with the hand-over signal for its child,
// so that the agent leaves its service instances running.
func TestStopSignals(t *testing.T) {
	for _, c := range []struct{ keeper, child syscall.Signal }{
		{syscall.SIGTERM, syscall.SIGTERM},
		{syscall.SIGUSR2, syscall.SIGUSR1},
	} {
		got := filepath.Join(t.TempDir(), "signal")
		r := supervise(t, "serve", func(s *Supervisor) { s.Env = append(s.Env, envSignal+"="+got) })
		pid := serving(t, r.addr)
		if err := syscall.Kill(os.Getpid(), c.keeper); err != nil { // Run has it under signal.Notify
			t.Fatal(err)
		}
		select {
		case err := <-r.done:
			r.done <- err
			if err != nil {
				t.Fatalf("Run after %v: %v", c.keeper, err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("Run did not return after %v", c.keeper)
		}
		gone(t, pid)
		if b, _ := os.ReadFile(got); string(b) != c.child.String() {
			t.Fatalf("after %v the child was stopped by %q, want %q", c.keeper, b, c.child)
		}
	}
}

func TestQuickCrashesBackOff(t *testing.T) {
	starts := filepath.Join(t.TempDir(), "starts")
	r := supervise(t, "exit", func(s *Supervisor) { s.Env = append(s.Env, envStarts+"="+starts) })
	time.Sleep(1500 * time.Millisecond)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(starts)
	n := strings.Count(string(b), "\n")
	t.Logf("%d starts in 1.5s of a child that exits at once", n)
	if n < 2 || n >= 15 {
		t.Fatalf("%d starts in 1.5s; want a few restarts, slowing down", n)
	}
}

func TestRestartDelay(t *testing.T) {
	for _, c := range []struct {
		quick int
		want  time.Duration
	}{{0, 0}, {1, 0}, {2, 100 * time.Millisecond}, {3, 200 * time.Millisecond}, {4, 400 * time.Millisecond},
		{7, 3200 * time.Millisecond}, {8, 5 * time.Second}, {100, 5 * time.Second}} {
		if got := restartDelay(c.quick); got != c.want {
			t.Errorf("restartDelay(%d) = %v, want %v", c.quick, got, c.want)
		}
	}
	if got := quickCrashes(3, 2*time.Second, time.Second); got != 0 {
		t.Errorf("a child that ran past MinUptime: %d quick crashes, want 0", got)
	}
	if got := quickCrashes(3, 10*time.Millisecond, time.Second); got != 4 {
		t.Errorf("another quick crash: %d, want 4", got)
	}
}

// The keeper's death, even by kill -9, stops its child (Pdeathsig) rather
// than leave it serving with nobody to restart it.
func TestKilledKeeperTakesItsChildAlong(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the keeper process binds it again; a race with another test binary is unlikely
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	keeper := exec.Command(os.Args[0])
	keeper.Env = append(os.Environ(), envMode+"=keeper", envAddr+"="+addr, envPID+"="+pidFile,
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	keeper.Stderr = os.Stderr
	if err := keeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keeper.Process.Kill(); _ = keeper.Wait() })
	pid := serving(t, addr)
	waitFile(t, pidFile, strconv.Itoa(pid)+"\n")
	if err := keeper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = keeper.Wait()
	gone(t, pid)
}
