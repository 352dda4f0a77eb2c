package supervise

import (
	"errors"
	"sync"
	"syscall"
	"time"
)

// handle is one running OS process, either our child or adopted.
type handle struct {
	pid    int
	exited chan struct{}
	mu     sync.Mutex
	err    error
}

func (h *handle) status() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		return "exit 0"
	}
	return h.err.Error()
}

// adopted watches a process that is not our child: it cannot be waited for,
// so its liveness is polled.
func adopted(pid int) *handle {
	h := &handle{pid: pid, exited: make(chan struct{})}
	go func() {
		for alive(pid) {
			time.Sleep(50 * time.Millisecond)
		}
		h.mu.Lock()
		h.err = errors.New("adopted process gone")
		h.mu.Unlock()
		close(h.exited)
	}()
	return h
}

// terminate sends SIGTERM to the process group, then SIGKILL after grace.
func (h *handle) terminate(grace time.Duration) {
	_ = syscall.Kill(-h.pid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-h.exited:
		// The leader is gone; make sure no straggler of its group survives.
		_ = syscall.Kill(-h.pid, syscall.SIGKILL)
		return
	case <-t.C:
	}
	_ = syscall.Kill(-h.pid, syscall.SIGKILL)
	<-h.exited
}

// Alive reports whether pid runs: a zombie, exited but not yet reaped by
// its parent, runs nothing and counts as gone.
func Alive(pid int) bool { return pid > 0 && alive(pid) }

func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	// A zombie answers signal 0; it is dead for our purposes.
	st, err := readStat(pid)
	return err == nil && st.state != 'Z'
}
