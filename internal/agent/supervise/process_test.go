package supervise

import (
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func shSpec(t *testing.T, script string) Spec {
	t.Helper()
	dir := t.TempDir()
	return Spec{
		Path: "/bin/sh", Args: []string{"-c", script}, Env: []string{"X=1"}, Dir: dir,
		LogPath: filepath.Join(dir, "log", "0.log"), PidPath: filepath.Join(dir, "run", "0.pid"),
		Grace: 2 * time.Second, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Limits: DefaultLimits,
	}
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartLogsAndStop(t *testing.T) {
	spec := shSpec(t, `echo "hello $X from $(pwd)"; exec sleep 60`)
	p := Start(spec, slog.New(slog.DiscardHandler), nil)
	waitFor(t, "pid file", 5*time.Second, func() bool { pf, _ := ReadPidFile(spec.PidPath); return pf != nil })
	pid := p.Pid()
	waitFor(t, "log line", 5*time.Second, func() bool {
		b, _ := os.ReadFile(spec.LogPath)
		return strings.Contains(string(b), "hello 1 from "+spec.Dir)
	})
	lim, _ := os.ReadFile("/proc/" + itoa(pid) + "/limits")
	if !strings.Contains(string(lim), "Max core file size        0") {
		t.Errorf("core limit not applied:\n%s", lim)
	}
	p.Stop()
	if alive(pid) {
		t.Fatalf("pid %d still alive after Stop", pid)
	}
	if _, err := os.Stat(spec.PidPath); !os.IsNotExist(err) {
		t.Fatalf("pid file left behind: %v", err)
	}
}

func TestRestartOnCrashWithBackoff(t *testing.T) {
	spec := shSpec(t, `echo crash; exit 3`)
	var exits atomic.Int64
	spec.OnExit = func() { exits.Add(1) }
	p := Start(spec, slog.New(slog.DiscardHandler), nil)
	defer p.Stop()
	waitFor(t, "3 restarts", 5*time.Second, func() bool { return p.Restarts() >= 3 })
	if exits.Load() < 3 {
		t.Fatalf("OnExit called %d times for ≥3 crashes", exits.Load())
	}
	b, _ := os.ReadFile(spec.LogPath)
	if n := strings.Count(string(b), "crash"); n < 3 {
		t.Fatalf("log has %d crash lines, want ≥3:\n%s", n, b)
	}
}

func TestSigkillAfterGraceAndGroupDies(t *testing.T) {
	spec := shSpec(t, `trap '' TERM; sleep 60 & echo child $!; wait`)
	spec.Grace = 200 * time.Millisecond
	p := Start(spec, slog.New(slog.DiscardHandler), nil)
	var child string
	waitFor(t, "child pid", 5*time.Second, func() bool {
		b, _ := os.ReadFile(spec.LogPath)
		for _, l := range strings.Split(string(b), "\n") {
			if c, ok := strings.CutPrefix(l, "child "); ok {
				child = c
				return true
			}
		}
		return false
	})
	start := time.Now()
	p.Stop()
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("Stop took %v; the TERM-ignoring shell should have lasted the grace period", d)
	}
	var pid int
	for _, c := range child {
		pid = pid*10 + int(c-'0')
	}
	waitFor(t, "child in group killed", 2*time.Second, func() bool { return !alive(pid) })
}

func TestRestartOnRequest(t *testing.T) {
	spec := shSpec(t, `exec sleep 60`)
	p := Start(spec, slog.New(slog.DiscardHandler), nil)
	defer p.Stop()
	waitFor(t, "pid", 5*time.Second, func() bool { return p.Pid() != 0 })
	first := p.Pid()
	p.Restart()
	waitFor(t, "new pid", 5*time.Second, func() bool { return p.Pid() != 0 && p.Pid() != first })
	if alive(first) {
		t.Fatalf("old pid %d still alive", first)
	}
	if p.Restarts() != 1 {
		t.Fatalf("restarts = %d, want 1", p.Restarts())
	}
}

func TestAdoptThenRestartWhenItDies(t *testing.T) {
	spec := shSpec(t, `exec sleep 60`)
	first := Start(spec, slog.New(slog.DiscardHandler), nil)
	waitFor(t, "pid file", 5*time.Second, func() bool { pf, _ := ReadPidFile(spec.PidPath); return pf != nil })
	pf, err := ReadPidFile(spec.PidPath)
	if err != nil || !pf.Alive() {
		t.Fatalf("pid file %+v alive=%v err=%v", pf, pf.Alive(), err)
	}
	// A second supervisor adopts the running process instead of starting one.
	first.Detach()
	if !alive(pf.Pid) {
		t.Fatal("Detach must leave the process running")
	}
	second := Start(spec, slog.New(slog.DiscardHandler), pf)
	waitFor(t, "adopted pid", 5*time.Second, func() bool { return second.Pid() == pf.Pid })
	_ = syscall.Kill(pf.Pid, syscall.SIGKILL)
	waitFor(t, "restart after adopted death", 5*time.Second, func() bool {
		return second.Pid() != 0 && second.Pid() != pf.Pid
	})
	second.Stop()
	if (&PidFile{Pid: 1, Start: 12345}).Alive() {
		t.Fatal("pid 1 with another start time must not count as the recorded process")
	}
}

func TestRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	for i := range 4 {
		if err := os.WriteFile(path, []byte(strings.Repeat(string(rune('a'+i)), 100)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := Rotate(path, 50, 2); err != nil {
			t.Fatal(err)
		}
	}
	cur, _ := os.ReadFile(path)
	one, _ := os.ReadFile(path + ".1")
	two, _ := os.ReadFile(path + ".2")
	if len(cur) != 0 || string(one) != strings.Repeat("d", 100) || string(two) != strings.Repeat("c", 100) {
		t.Fatalf("cur=%q .1=%q .2=%q", cur, one, two)
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Fatal("kept more than 2 copies")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
