package pidlock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a process that takes the lock and sleeps, so
// tests face a real other holder with its own PID.
func TestMain(m *testing.M) {
	if p := os.Getenv("PIDLOCK_HOLD"); p != "" {
		if _, err := Acquire(p, "test holder"); err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(3)
		}
		os.Stdout.WriteString("held\n")
		time.Sleep(time.Hour)
	}
	os.Exit(m.Run())
}

func holder(t *testing.T, path string) *exec.Cmd {
	t.Helper()
	c := exec.Command(os.Args[0], "-test.run=^$")
	c.Env = append(os.Environ(), "PIDLOCK_HOLD="+path)
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || string(buf) != "held\n" {
		t.Fatalf("holder did not take the lock: %q %v", buf, err)
	}
	return c
}

func TestSecondAcquireNamesTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.lock")
	c := holder(t, path)
	_, err := Acquire(path, "belay server")
	if !errors.Is(err, ErrHeld) {
		t.Fatalf("Acquire = %v, want ErrHeld", err)
	}
	want := "belay server already runs (pid " + strconv.Itoa(c.Process.Pid) + "; lock held: " + path + ")"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
	if pid, err := Holder(path); err != nil || pid != c.Process.Pid {
		t.Fatalf("Holder = %d, %v; want %d", pid, err, c.Process.Pid)
	}
}

func TestStaleLockIsTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.lock")
	c := holder(t, path)
	_ = c.Process.Signal(syscall.SIGKILL)
	_ = c.Wait()
	if pid, err := Holder(path); err != nil || pid != 0 {
		t.Fatalf("Holder after the holder died = %d, %v; want 0", pid, err)
	}
	l, err := Acquire(path, "belay agent")
	if err != nil {
		t.Fatalf("Acquire over a stale file: %v", err)
	}
	defer l.Release()
	b, _ := os.ReadFile(path)
	if strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("lock file holds %q, want our pid", b)
	}
}

func TestReleaseFrees(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x", "y.lock")
	l, err := Acquire(path, "x")
	if err != nil {
		t.Fatal(err)
	}
	if pid, _ := Holder(path); pid != os.Getpid() {
		t.Fatalf("Holder = %d, want us", pid)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if pid, _ := Holder(path); pid != 0 {
		t.Fatalf("Holder after Release = %d", pid)
	}
	if pid, _ := Holder(filepath.Join(t.TempDir(), "missing.lock")); pid != 0 {
		t.Fatalf("Holder of a missing file = %d", pid)
	}
}

// A home on a read-only filesystem: a real read-only tmpfs mount when we may
// mount (root), otherwise a directory without write permission for a
// non-root user. Either way the error says what to do.
func TestReadOnlyHome(t *testing.T) {
	dir := t.TempDir()
	want := "read-only filesystem"
	if os.Geteuid() == 0 {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_RDONLY, "size=1m"); err != nil {
			t.Fatalf("mount a read-only tmpfs: %v", err)
		}
		t.Cleanup(func() { _ = syscall.Unmount(dir, 0) })
	} else {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		want = "permission denied"
	}
	_, err := Acquire(filepath.Join(dir, "server.lock"), "belay server")
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--home") {
		t.Fatalf("Acquire on a read-only home = %v, want an error about %q naming --home", err, want)
	}
}
