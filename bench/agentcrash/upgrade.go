package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/belay-dev/belay/internal/loadgen"
)

// upgradeResult is one `belay agent --upgrade` under load.
type upgradeResult struct {
	took           time.Duration // the command: new child started, Ready, old one told to drain
	drained        time.Duration // from the command's end until the old child exited
	oldPID, newPID int
	newBinary      bool // the new child runs the file now at the binary's path
	sent           int  // the load's requests sent from the upgrade's start until 2 s later
	longest        time.Duration
	retried        int
}

// upgradeSummary is the whole upgrade round as the load saw it.
type upgradeSummary struct {
	runs    []upgradeResult
	sent    int64
	failed  []loadgen.Failure
	refused int
	span    time.Duration
}

// upgradeRound waits until no rollout runs in production, then upgrades
// the agent n times, each time onto another build of belay renamed over
// the binary the keeper runs.
func (b *bench) upgradeRound(ctx context.Context, n int) (upgradeSummary, error) {
	var s upgradeSummary
	if err := b.awaitIdle(ctx); err != nil {
		return s, err
	}
	time.Sleep(3 * time.Second) // the rolled-back version's drain and stop
	before, t0 := b.load.Tally(), time.Now()
	for i := range n {
		if err := b.p.swapBinary(i + 1); err != nil {
			return s, err
		}
		u, err := b.upgrade(ctx)
		if err != nil {
			return s, err
		}
		logf("upgrade %d: child %d → %d in %s (new binary: %v); old child exited %s later", i+1, u.oldPID, u.newPID,
			u.took.Round(time.Millisecond), u.newBinary, u.drained.Round(time.Millisecond))
		s.runs = append(s.runs, u)
	}
	after := b.load.Tally()
	s.span, s.sent = time.Since(t0), after.Sent-before.Sent
	s.failed = after.Failures[len(before.Failures):]
	s.refused = refused(s.failed)
	for _, f := range s.failed {
		logf("upgrade: failed: %s", f)
	}
	return s, nil
}

// upgrade runs `belay agent --upgrade` in the project and waits for the
// old child to exit.
func (b *bench) upgrade(ctx context.Context) (upgradeResult, error) {
	var u upgradeResult
	t0 := time.Now()
	out, err := b.p.belay(ctx, "agent", "--upgrade", "-o", "json")
	u.took = time.Since(t0)
	if err != nil {
		return u, err
	}
	var a struct {
		Old int `json:"old_child_pid"`
		New int `json:"new_child_pid"`
	}
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		return u, fmt.Errorf("belay agent --upgrade -o json: %v: %s", err, out)
	}
	u.oldPID, u.newPID = a.Old, a.New
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", u.newPID))
	u.newBinary = exe == b.p.bin
	handed := time.Now()
	for alive(u.oldPID) {
		if time.Since(handed) > 30*time.Second {
			return u, fmt.Errorf("upgrade: old agent child %d still runs 30s after the hand-over", u.oldPID)
		}
		time.Sleep(time.Millisecond)
	}
	u.drained = time.Since(handed)
	time.Sleep(2 * time.Second) // the requests sent meanwhile are answered, or not

	from := b.since(t0)
	qs := b.rec.between(from, from+u.took+u.drained+2*time.Second)
	u.sent = len(qs)
	u.longest = longest(qs)
	for _, q := range qs {
		if q.conns > 1 {
			u.retried++
			logf("upgrade: sent again by the client: %s (times from the upgrade's start)", q.sentAgain(from))
		}
	}
	return u, nil
}

// awaitIdle waits until no rollout of hello runs in production.
func (b *bench) awaitIdle(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		es, err := b.p.productionStatus(ctx)
		if err == nil && es.Rollout == nil {
			return nil
		}
		if time.Now().After(deadline) {
			what := "status unreadable"
			if es.Rollout != nil {
				what = fmt.Sprintf("rollout %d in %s", es.Rollout.ID, es.Rollout.Phase)
			}
			return fmt.Errorf("production not idle after a minute: %s %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
