package infra_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/infra"
)

const crashEnv = "BELAY_INFRA_CRASH_CHILD" // state path, service, plan ID

// TestKill9DuringApply: an apply process killed with SIGKILL right after
// it created the database (the create-pending marker stored, the record
// not) leaves its lock held; after an audited unlock the old plan is
// stale, the new one creates nothing twice (the database is a no-op) and
// applying it records every resource.
func TestKill9DuringApply(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.db")
	e, st := engineAt(t, state)
	ctx := t.Context()
	svc := fmt.Sprintf("k%d", time.Now().UnixNano())
	p := project(t, svc, "")
	t.Cleanup(func() { cleanup(t, svc, "staging") })
	pl := planApprove(t, e, p, "staging")
	cmd := exec.Command(os.Args[0], "-test.run", "^TestKill9Child$", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"="+state+"|"+svc+"|"+strconv.FormatInt(pl.ID, 10))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v\n%s", err, out)
	}
	rows, _ := st.InfraResources(ctx, "staging")
	pending := 0
	for _, r := range rows {
		if r.CreatePending {
			pending++
		}
	}
	if len(rows) != 3 || pending != 1 {
		t.Fatalf("after kill -9: %d rows, %d pending; want 3 and 1", len(rows), pending)
	}
	pl2 := planApprove(t, e, p, "staging")
	if pl2.Summary[infra.ActNoop] != 3 || pl2.Summary[infra.ActCreate] != 1 {
		t.Fatalf("plan after kill -9 = %v, want 3 no-ops (the database included) and the Redis user to create", pl2.Summary)
	}
	if _, err := e.Apply(ctx, p, "staging", pl2.ID, infra.ApplyOptions{Actor: "carol"}); !errors.Is(err, infra.ErrLocked) {
		t.Fatalf("apply while the dead apply's lock is held: %v, want locked", err)
	}
	if was, err := e.Unlock(ctx, "staging", "dave", "apply killed"); err != nil || was == "" {
		t.Fatalf("unlock = %q, %v", was, err)
	}
	if _, err := e.Apply(ctx, p, "staging", pl.ID, infra.ApplyOptions{Actor: "carol"}); !errors.Is(err, infra.ErrStale) {
		t.Fatalf("the killed apply's plan: %v, want stale", err)
	}
	if _, err := e.Apply(ctx, p, "staging", pl2.ID, infra.ApplyOptions{Actor: "carol"}); err != nil {
		t.Fatal(err)
	}
	rows, _ = st.InfraResources(ctx, "staging")
	for _, r := range rows {
		if r.CreatePending || len(r.Applied) == 0 {
			t.Fatalf("after the second apply: %+v", r)
		}
	}
	if len(rows) != 4 {
		t.Fatalf("rows = %d, want 4", len(rows))
	}
	if pl3, err := e.Plan(ctx, p, "staging", "alice", nil); err != nil || pl3.Summary[infra.ActNoop] != 4 {
		t.Fatalf("final plan = %v, %v; want 4 no-ops", pl3.Summary, err)
	}
}

// TestKill9Child is the apply TestKill9DuringApply kills: it applies the
// plan and SIGKILLs itself right after the database's Create.
func TestKill9Child(t *testing.T) {
	arg := os.Getenv(crashEnv)
	if arg == "" {
		t.Skip("run by TestKill9DuringApply")
	}
	parts := strings.Split(arg, "|")
	id, _ := strconv.ParseInt(parts[2], 10, 64)
	e, _ := engineAt(t, parts[0])
	_, err := e.Apply(t.Context(), project(t, parts[1], ""), "staging", id, infra.ApplyOptions{Actor: "carol", Holder: "child",
		AfterCreate: func(c infra.Change) {
			if c.Kind == "postgres_database" {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}})
	t.Fatalf("apply returned without being killed: %v", err)
}
