package keeper

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestUpgradeUnderLoadFailsNoRequest(t *testing.T) {
	r := supervise(t, "serve")
	old := serving(t, r.addr)
	l := startLoad(r.addr, 2)
	time.Sleep(200 * time.Millisecond)
	started := time.Now()
	if err := r.s.Upgrade(context.Background()); err != nil {
		l.stop()
		t.Fatal(err)
	}
	took := time.Since(started)
	nu := r.s.ChildPID()
	if nu == old || nu == 0 {
		t.Fatalf("ChildPID %d after upgrade from %d", nu, old)
	}
	gone(t, old)
	time.Sleep(200 * time.Millisecond)
	l.stop()
	t.Logf("upgrade took %v; %d ok, %d refused, %d failed", took.Round(time.Millisecond), l.ok, l.refused, len(l.failed))
	if l.refused != 0 || len(l.failed) != 0 {
		t.Errorf("%d refused and %d failed requests during the upgrade: %q", l.refused, len(l.failed), l.failed)
	}
	if l.last != nu {
		t.Errorf("the latest answer came from %d, want the new child %d", l.last, nu)
	}
}

func TestUpgradeToAChildThatFailsKeepsTheOld(t *testing.T) {
	fail := filepath.Join(t.TempDir(), "fail")
	r := supervise(t, "serve", func(s *Supervisor) { s.Env = append(s.Env, envFail+"="+fail) })
	old := serving(t, r.addr)
	if err := os.WriteFile(fail, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := r.s.Upgrade(context.Background())
	if !errors.Is(err, ErrUpgrade) || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("Upgrade to a failing child: %v", err)
	}
	if got := r.s.ChildPID(); got != old {
		t.Fatalf("ChildPID %d after a failed upgrade, want the old %d", got, old)
	}
	if pid, _, err := ask(r.addr); err != nil || pid != old {
		t.Fatalf("after a failed upgrade: pid %d, %v; want the old child %d", pid, err, old)
	}
	os.Remove(fail)
	if err := r.s.Upgrade(context.Background()); err != nil {
		t.Fatalf("a later upgrade: %v", err)
	}
}

func TestServingChildDyingDuringUpgradeHandsOverAtOnce(t *testing.T) {
	dir := t.TempDir()
	slow, starts := filepath.Join(dir, "slow"), filepath.Join(dir, "starts")
	r := supervise(t, "serve", func(s *Supervisor) {
		s.Env = append(s.Env, envSlow+"="+slow, envStarts+"="+starts)
	})
	old := serving(t, r.addr)
	if err := os.WriteFile(slow, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	upgraded := make(chan error, 1)
	go func() { upgraded <- r.s.Upgrade(context.Background()) }()
	deadline := time.Now().Add(10 * time.Second)
	for r.s.pendingPID() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the upgrade's child never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	l := startLoad(r.addr, 2)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-upgraded:
		if err != nil {
			t.Fatalf("Upgrade: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Upgrade did not return")
	}
	nu, _ := l.firstNot(t, old)
	l.stop()
	if got := r.s.ChildPID(); got != nu {
		t.Fatalf("ChildPID %d, but %d answers", got, nu)
	}
	if l.refused != 0 {
		t.Errorf("%d connections refused", l.refused)
	}
	b, _ := os.ReadFile(starts)
	if n := strings.Count(string(b), "\n"); n != 2 {
		t.Errorf("%d children started; want 2 (the upgrade's child takes over, no restart)", n)
	}
}

func (s *Supervisor) pendingPID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		return 0
	}
	return s.pending.pid
}

func TestSIGHUPUpgrades(t *testing.T) {
	r := supervise(t, "serve")
	old := serving(t, r.addr)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil { // Run has it under signal.Notify
		t.Fatal(err)
	}
	gone(t, old)
	if pid := serving(t, r.addr); pid == old {
		t.Fatalf("the old child %d still answers after SIGHUP", pid)
	}
}
