package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/loadgen"
	"github.com/belay-dev/belay/internal/rollout"
)

// bench is what every round shares: the project, and the load running
// through production's proxy for the whole run.
type bench struct {
	p    *project
	load *loadgen.Load
	rec  *recorder // rec.start is the load's start, within microseconds
}

// since is t as an offset from the load's start, the clock of loadgen's
// failures and of the recorder.
func (b *bench) since(t time.Time) time.Duration { return t.Sub(b.rec.start) }

// crashResult is one release whose production canary had its agent child
// killed with SIGKILL.
type crashResult struct {
	name, version, want, wantStable string
	release, rollout                int64
	step                            int           // canary step the kill hit
	intoStep                        time.Duration // since the rollout entered that step
	oldPID, newPID                  int
	pidBack, apiBack, proxyBack     time.Duration // from the kill
	inFlight                        int           // the load's requests in flight at the kill
	secondSent                      int           // the load's requests sent in the second after the kill
	// sent again by the client on a new connection, around the kill: written
	// to the old child before the kill, or sent on its dead keep-alive
	// connection after it
	againInFlight, againLater int
	longest                   time.Duration // longest request sent around the kill
	failed                    []loadgen.Failure
	refused                   int
	own                       int // the bad version's own 5xx answers
	phase, reason, stable     string
	wait                      string // `belay wait --release N`, its last line
	kill                      time.Duration
}

// crashSpec says what a crash round releases and what must become of it.
type crashSpec struct {
	name, version string
	into          time.Duration // how long into the first canary step to kill
	want          string        // the phase the rollout must end in
	wantStable    string        // production's stable version after it
	own           []string      // versions whose 5xx answers are their own, not the crash's
}

// crashRound releases a version and kills the agent child once the
// production rollout has been in its first canary step for c.into.
func (b *bench) crashRound(ctx context.Context, c crashSpec) (crashResult, error) {
	r := crashResult{name: c.name, version: c.version, want: c.want, wantStable: c.wantStable}
	name, version := c.name, c.version
	before := b.load.Tally()
	var err error
	if r.release, err = b.p.release(ctx, version); err != nil {
		return r, err
	}
	if r.rollout, err = b.p.productionRollout(ctx, version); err != nil {
		return r, err
	}
	v, err := b.awaitCanary(ctx, r.rollout, c.into)
	if err != nil {
		return r, err
	}
	r.step = canaryStep(v)
	if r.oldPID, err = b.p.liveChild(); err != nil {
		return r, err
	}
	t0 := time.Now()
	if err := syscall.Kill(r.oldPID, syscall.SIGKILL); err != nil {
		return r, fmt.Errorf("kill -9 agent child %d: %w", r.oldPID, err)
	}
	r.kill = b.since(t0)
	r.intoStep = t0.Sub(enteredStep(v, r.step))
	logf("%s: rollout %d of %s in Canary[%d] for %s: kill -9 agent child %d", name, r.rollout, version, r.step, r.intoStep.Round(time.Millisecond), r.oldPID)
	if err := b.measureRestart(ctx, t0, &r); err != nil {
		return r, err
	}
	logf("%s: new child %d after %s, agent API after %s, proxy answering a new connection after %s", name, r.newPID,
		r.pidBack.Round(time.Millisecond), r.apiBack.Round(time.Millisecond), r.proxyBack.Round(time.Millisecond))

	out, werr := b.p.belay(ctx, "wait", "--release", fmt.Sprint(r.release), "--timeout", "3m")
	r.wait = lastLine(out)
	if werr != nil {
		r.wait = lastLine(werr.Error())
	}
	end, err := b.p.rollout(ctx, r.rollout)
	if err != nil {
		return r, err
	}
	r.phase, r.reason = end.Phase, end.Reason
	if es, err := b.p.productionStatus(ctx); err == nil {
		r.stable = es.Stable
	}
	logf("%s: rollout %d ended %s (%s); production's stable: %s; %s", name, r.rollout, r.phase, r.reason, r.stable, r.wait)
	time.Sleep(time.Second) // answers to requests sent before the end land in the tally
	b.tallyRound(&r, before, b.load.Tally(), c.own)
	return r, nil
}

// awaitCanary polls the rollout until it is in Canary, and then until it
// has been in its first canary step for into; it returns the rollout as it
// was seen last, still in that step.
func (b *bench) awaitCanary(ctx context.Context, id int64, into time.Duration) (api.RolloutView, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		v, err := b.p.rollout(ctx, id)
		switch {
		case err == nil && v.Phase == string(rollout.Canary) && canaryStep(v) != 0:
			return v, fmt.Errorf("rollout %d left its first canary step before it was %s in it (a smaller -good-into or -bad-into)", id, into)
		case err == nil && v.Phase == string(rollout.Canary) && time.Since(enteredStep(v, 0)) >= into:
			return v, nil
		case err == nil && v.Terminal:
			return v, fmt.Errorf("rollout %d ended %s before it was %s into its first canary step (a smaller -good-into or -bad-into)", id, v.Phase, into)
		case ctx.Err() != nil:
			return v, fmt.Errorf("rollout %d never seen in Canary: %w", id, ctx.Err())
		}
		pause := 5 * time.Millisecond
		if err == nil && v.Phase == string(rollout.Canary) {
			pause = max(pause, time.Until(enteredStep(v, 0).Add(into))-10*time.Millisecond)
		}
		time.Sleep(pause)
	}
}

func canaryStep(v api.RolloutView) int {
	var st rollout.State
	_ = json.Unmarshal(v.State, &st)
	return st.Step
}

// enteredStep is when the rollout's transitions say it entered canary step
// step (the server and the bench share this machine's clock).
func enteredStep(v api.RolloutView, step int) time.Time {
	var at time.Time
	for _, t := range v.Transitions {
		if t.To == rollout.Canary && t.Step == step && (t.From != rollout.Canary || t.Step != step) {
			at = t.At
		}
	}
	if at.IsZero() {
		return time.Now()
	}
	return at
}

// liveChild is the serving agent child, checked to be the keeper's child.
func (p *project) liveChild() (int, error) {
	pid := p.childPID()
	keeper, err := p.keeperPID()
	if err != nil {
		return 0, err
	}
	if pid == 0 || !alive(pid) || ppid(pid) != keeper {
		return 0, fmt.Errorf("agent child pid %d (from %s) is not a live child of the keeper %d", pid, p.childPIDFile(), keeper)
	}
	return pid, nil
}

// measureRestart waits, from the kill at t0, for the keeper's new child
// (its pid file), the agent's API on its unix socket, and production's
// proxy answering a request on a new connection.
func (b *bench) measureRestart(ctx context.Context, t0 time.Time, r *crashResult) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	errs := make(chan error, 3)
	go func() {
		for ctx.Err() == nil {
			if pid := b.p.childPID(); pid != 0 && pid != r.oldPID {
				r.newPID, r.pidBack = pid, time.Since(t0)
				errs <- nil
				return
			}
			time.Sleep(time.Millisecond)
		}
		errs <- fmt.Errorf("no new agent child in %s: %w", b.p.childPIDFile(), ctx.Err())
	}()
	sock := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", b.p.agentSocket())
		}}}
	go func() {
		d, err := firstAnswer(ctx, sock, "http://agent/v1/services/production/hello", t0)
		r.apiBack = d
		errs <- err
	}()
	tcp := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	go func() {
		d, err := firstAnswer(ctx, tcp, "http://"+b.p.production+"/healthz", t0)
		r.proxyBack = d
		errs <- err
	}()
	var all []error
	for range 3 {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// firstAnswer GETs url, each time on a new connection, until an answer
// below 500 comes, and returns the time from t0 to it.
func firstAnswer(ctx context.Context, c *http.Client, url string, t0 time.Time) (time.Duration, error) {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return time.Since(t0), nil
			}
		}
		if ctx.Err() != nil {
			return time.Since(t0), fmt.Errorf("%s never answered: %w (last: %v)", url, ctx.Err(), err)
		}
		time.Sleep(time.Millisecond)
	}
}

// tallyRound counts what the load saw during the round: failures other
// than the bad version's own 5xx, refusals among them, and around the kill
// the requests in flight, sent in the next second, sent again, and the
// longest.
func (b *bench) tallyRound(r *crashResult, before, after loadgen.Tally, own []string) {
	round := loadgen.Tally{Failures: after.Failures[len(before.Failures):]}
	r.failed, r.own = round.Except(own...)
	r.refused = refused(r.failed)
	r.inFlight = b.rec.spanning(r.kill)
	r.secondSent = len(b.rec.between(r.kill, r.kill+time.Second))
	around := b.rec.between(r.kill-time.Second, r.kill+5*time.Second)
	r.longest = longest(around)
	r.againInFlight, r.againLater = again(around, r.kill)
	for _, q := range around {
		if q.conns > 1 {
			logf("%s: sent again by the client: %s (times from the kill)", r.name, q.sentAgain(r.kill))
		}
	}
	for _, f := range r.failed {
		logf("%s: failed: %s, %+.3fs from the kill", r.name, f, (f.At - r.kill).Seconds())
	}
}

func refused(fs []loadgen.Failure) int {
	n := 0
	for _, f := range fs {
		if f.Status == 0 && strings.Contains(f.Err, "connection refused") {
			n++
		}
	}
	return n
}

// ppid is pid's parent, 0 when unknown.
func ppid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	var n int
	fmt.Sscan(f[1], &n)
	return n
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}
