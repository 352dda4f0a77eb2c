package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/store"
)

// Environment of a crash test's child process.
const (
	CrashEnv        = "BELAY_STORE_CRASH_DB"
	CrashRolloutEnv = "BELAY_STORE_CRASH_ROLLOUT"
)

// CrashWriter transitions a rollout until it fails or is killed, each step
// with an event and an audit entry, as the engine would. A backend's crash
// test runs it in a child process: call it from a test that returns at once
// unless CrashEnv is set.
func CrashWriter(ctx context.Context, s store.Store) error {
	id, err := strconv.ParseInt(os.Getenv(CrashRolloutEnv), 10, 64)
	if err != nil {
		return err
	}
	for {
		r, err := s.GetRollout(ctx, id)
		if err != nil {
			return err
		}
		next := r.Seq + 1
		_, err = s.Transition(ctx, id, r.Seq, state(fmt.Sprintf("Canary-%d", next), false), store.Step{
			At: time.Now(), Reason: "tick",
			Effects: store.Effects{
				Events: []json.RawMessage{json.RawMessage(fmt.Sprintf(`{"seq":%d}`, next))},
				Audit:  &store.AuditEntry{At: time.Now(), Actor: "engine", Action: "transition", Subject: fmt.Sprintf("rollout/%d#%d", id, next)},
			},
		})
		if err != nil {
			return err
		}
	}
}

// Crash starts child (the test binary running CrashWriter on the database
// that reopen opens; child.Env names it, the rollout is added), kills it with SIGKILL once it has made progress, and
// checks that every transition is whole: rollout seq, transition rows,
// events and audit entries agree, none lost or duplicated, and the rollout
// moves on from where it stopped.
func Crash(t *testing.T, reopen func(t *testing.T) store.Store, child *exec.Cmd) {
	defer fatalOnFailure(t)
	s := reopen(t)
	r := rollout(t, s, release(t, s, "api", "api-2026.05.12-8f3a91c"), "production")
	child.Env = append(append(os.Environ(), child.Env...), CrashRolloutEnv+"="+strconv.FormatInt(r.ID, 10))
	out := &lockedBuffer{}
	child.Stdout, child.Stderr = out, out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for must(s.GetRollout(t.Context(), r.ID)).Seq < 40 {
		if time.Now().After(deadline) {
			_ = child.Process.Kill()
			_ = child.Wait()
			t.Fatalf("child made no progress in 30s:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(time.Duration(rand.IntN(20_000)) * time.Microsecond) // kill at an arbitrary point of a step
	_ = child.Process.Kill()
	err := child.Wait()
	if ws, ok := child.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("child ended before the kill (%v):\n%s", err, out.String())
	}
	_ = s.Close()

	s = reopen(t)
	defer s.Close()
	checkWhole(t, s, r.ID)
}

func checkWhole(t *testing.T, s store.Store, id int64) {
	// Resume as the engine does. A commit the killed process had already
	// sent may still land (PostgreSQL finishes a COMMIT it received), so a
	// conflict means: reload and decide again.
	var final store.Rollout
	for attempt := 0; ; attempt++ {
		r := must(s.GetRollout(t.Context(), id))
		var err error
		final, err = s.Transition(t.Context(), id, r.Seq, state("Succeeded", true), store.Step{At: at, Reason: "resumed"})
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) || attempt == 10 {
			t.Fatalf("resuming at seq %d: %v", r.Seq, err)
		}
	}
	n := int(final.Seq) - 1 // transitions the killed process committed
	t.Logf("killed after %d transitions", n)
	trs := must(s.Transitions(t.Context(), id))
	evs := must(s.EventsSince(t.Context(), 0, 100000))
	audit := must(s.AuditSince(t.Context(), 0, 100000))
	if len(trs) != n+1 || len(evs) != n || len(audit) != n {
		t.Fatalf("rollout seq %d, %d transitions, %d events, %d audit entries: want %d, %d, %d, %d",
			final.Seq, len(trs), len(evs), len(audit), n+1, n+1, n, n)
	}
	for i := range n {
		want := int64(i + 1)
		if trs[i].Seq != want || trs[i].To != fmt.Sprintf("Canary-%d", want) ||
			string(evs[i].Data) != fmt.Sprintf(`{"seq":%d}`, want) || audit[i].Subject != fmt.Sprintf("rollout/%d#%d", id, want) {
			t.Fatalf("step %d: transition %+v, event %s, audit %s", want, trs[i], evs[i].Data, audit[i].Subject)
		}
	}
	if last := trs[n]; last.Seq != final.Seq || last.From != fmt.Sprintf("Canary-%d", n) || last.To != "Succeeded" {
		t.Errorf("resumed transition = %+v", last)
	}
}
