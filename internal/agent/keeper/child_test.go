package keeper

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe to write from the copy goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestChildOutputToAWriterAndKillAfterStopTimeout(t *testing.T) {
	out := &lockedBuffer{}
	r := supervise(t, "stubborn", func(s *Supervisor) {
		s.Stdout = out
		s.StopTimeout = 300 * time.Millisecond
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "stubborn child here") {
		if time.Now().After(deadline) {
			t.Fatalf("child's stdout never reached the writer: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	pid := r.s.ChildPID()
	start := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	gone(t, pid)
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("stop took %v with StopTimeout 300ms", took)
	}
}
