// Package pidlock makes "one process per thing" a fact the kernel enforces:
// an exclusive flock on a file, held for the process's life and released by
// the kernel when the process dies (even by kill -9), with the holder's PID
// written in the file so that others can say who holds it. A PID file alone
// cannot do this: it outlives its process and its PID gets reused.
package pidlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrHeld marks a lock another live process holds.
var ErrHeld = errors.New("lock held")

// Lock is a held lock; Release gives it up (process exit does too).
type Lock struct {
	f    *os.File
	path string
}

// Acquire takes the lock at path without waiting, creating the file and its
// directory. what names the holder in errors ("belay server"). A file left
// by a dead process is simply taken over: its flock died with it.
func Acquire(path, what string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fsError(path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fsError(path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid, _ := readPID(path)
			return nil, fmt.Errorf("%s already runs (pid %d; %w: %s); stop it first (`belay down`), or use another home or socket", what, pid, ErrHeld, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fsError(path, err)
	}
	return &Lock{f: f, path: path}, nil
}

// Release unlocks. The file stays: removing it would race with a process
// that opened it a moment before and would then lock a file nobody else
// sees; a file nobody locks is simply free (Holder says 0).
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Path is the lock file.
func (l *Lock) Path() string { return l.path }

// Holder returns the PID of the live process holding the lock at path, or
// 0 when nobody does (no file, or a file whose process is gone).
func Holder(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("lock %s: %w", path, err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if err == nil {
		return 0, nil // we could take it: nobody holds it; closing drops ours
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return 0, fmt.Errorf("lock %s: %w", path, err)
	}
	pid, err := readPID(path)
	if err != nil {
		return 0, fmt.Errorf("lock %s is held but names no process: %w", path, err)
	}
	return pid, nil
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("no PID in %q", strings.TrimSpace(string(b)))
	}
	return pid, nil
}

// fsError explains the failures a user can fix.
func fsError(path string, err error) error {
	switch {
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("lock %s: the directory is on a read-only filesystem; belay writes its locks and state there: choose a writable --home (or BELAY_HOME)", path)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("lock %s: permission denied; run belay as the user that owns this home, or choose another --home", path)
	}
	return fmt.Errorf("lock %s: %w", path, err)
}
