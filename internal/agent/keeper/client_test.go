package keeper

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"testing"
)

func TestFromEnvWithoutKeeper(t *testing.T) {
	t.Setenv(EnvFD, "")
	os.Unsetenv(EnvFD)
	c, err := FromEnv()
	if c != nil || err != nil {
		t.Fatalf("FromEnv with %s unset: %v, %v; want nil, nil", EnvFD, c, err)
	}
}

func TestFromEnvRejectsGarbage(t *testing.T) {
	t.Setenv(EnvFD, "three")
	if _, err := FromEnv(); err == nil {
		t.Fatal("FromEnv accepted a non-number")
	}
	if _, ok := os.LookupEnv(EnvFD); ok {
		t.Fatalf("%s still set after FromEnv", EnvFD)
	}
}

func TestFromEnvTakesTheFDAndHidesIt(t *testing.T) {
	k := New(testLog(t))
	defer k.Close()
	f, err := k.pair(nil)
	if err != nil {
		t.Fatal(err)
	}
	// FromEnv takes ownership of the fd, so hand it a dup that f's
	// finalizer cannot close later.
	fd, err := syscall.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvFD, strconv.Itoa(fd))
	c, err := FromEnv()
	if err != nil || c == nil {
		t.Fatalf("FromEnv: %v, %v", c, err)
	}
	defer c.Close()
	if v, ok := os.LookupEnv(EnvFD); ok {
		t.Fatalf("%s=%s still set: service processes would inherit it", EnvFD, v)
	}
	// The numbered fd is closed; the client works on a close-on-exec dup.
	if _, err := fcntl(fd, syscall.F_GETFD); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("fd %d still open after FromEnv (%v)", fd, err)
	}
	if err := c.Ready(); err != nil {
		t.Fatal(err)
	}
	if again, err := FromEnv(); again != nil || err != nil {
		t.Fatalf("second FromEnv: %v, %v; want nil, nil", again, err)
	}
}

func fcntl(fd, cmd int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(cmd), 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}
