package explain

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/belay-dev/belay/internal/hook"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/smoke"
)

// failure tells an action that failed for good, from its evidence.
func (c scene) failure() Decision {
	what := ""
	switch c.t.Action {
	case rollout.RunSmoke:
		what = c.smokeFailed()
	case rollout.RunHooks:
		what = c.hookFailed()
	case rollout.Verify:
		what = "the artifact did not check out: " + c.cause()
	case rollout.CheckInfra:
		what = "belay stopped before deploying: " + c.infraFound()
	case rollout.StartVersion:
		what = "the new version did not start or did not pass its health checks: " + c.cause()
	default:
		what = fmt.Sprintf("belay could not %s: %s", strings.ReplaceAll(string(c.t.Action), "_", " "), c.cause())
	}
	then := c.then()
	switch {
	case c.t.To == rollout.Failed:
		if to := c.stable(); to != "" {
			then += ": " + to + " still serves everything"
		}
	case c.t.To == rollout.Paused && !c.contract():
		then = "belay left traffic where it is and paused the rollout for a person to decide"
	}
	d := Decision{Story: []string{what, then}, Next: c.next()}
	switch c.t.Action {
	case rollout.RunHooks:
		if c.t.From == rollout.Migrating {
			d.Next = "read the hook's output in the evidence, fix it and release again; hooks run again from the start, so they must be safe to re-run"
		}
	case rollout.RunSmoke:
		d.Next = "fix what the smoke test found and release a new version"
	case rollout.CheckInfra:
		if tgt := c.targetFound(); tgt != "" {
			d.Next = tgt
			break
		}
		if c.infraUnchecked() {
			d.Next = fmt.Sprintf("give belay access to %s's stack servers (`belay secrets set NAME --env %s`, the servers up), then release again",
				c.st.Environment, c.st.Environment)
			break
		}
		d.Next = fmt.Sprintf("apply the stack (`belay plan --env %s`, `belay plan approve`, `belay apply`) or acknowledge the drift "+
			"(`belay drift ack --env %s KIND/NAME`), then release again", c.st.Environment, c.st.Environment)
	}
	return d
}

// infraUnchecked reports whether the Infrastructure Plan phase could not
// check the stack at all (its evidence has an error).
func (c scene) infraUnchecked() bool {
	var ev struct {
		Error string `json:"error"`
	}
	return json.Unmarshal(c.t.Evidence, &ev) == nil && ev.Error != ""
}

// targetFound is what to do when the Infrastructure Plan phase stopped on
// what the target (a cluster) reported: drift no one adopted, or drift it
// could not read ("" otherwise).
func (c scene) targetFound() string {
	var ev struct {
		Drift   []json.RawMessage `json:"target_drift"`
		Adopted string            `json:"adopted_by"`
		Error   string            `json:"target_error"`
	}
	if json.Unmarshal(c.t.Evidence, &ev) != nil {
		return ""
	}
	switch {
	case ev.Error != "":
		return fmt.Sprintf("fix belay's access to %s's cluster (the kubeconfig, context and namespace in its kubernetes: block, and the cluster itself), then release again", c.st.Environment)
	case len(ev.Drift) > 0 && ev.Adopted == "":
		return fmt.Sprintf("undo the changes made outside belay, or deploy over them: `belay release %s %s --env %s --adopt` (audited as rollout.drift.adopted)",
			c.st.Service, c.st.New.Version, c.st.Environment)
	}
	return ""
}

// infraFound is what the Infrastructure Plan phase found, resource by
// resource, from its evidence (the summary), else the error.
func (c scene) infraFound() string {
	var ev struct {
		Summary string `json:"summary"`
	}
	if json.Unmarshal(c.t.Evidence, &ev) == nil && ev.Summary != "" {
		return ev.Summary
	}
	return c.cause()
}

// cause is the error an action failed with, out of the transition's reason.
func (c scene) cause() string {
	s, _ := strings.CutPrefix(c.t.Reason, string(c.t.Action)+" failed: ")
	for _, tail := range []string{"; no traffic moved", "; a person must decide"} {
		s, _, _ = strings.Cut(s, tail)
	}
	return s
}

func (c scene) smokeFailed() string {
	var ev struct {
		Report smoke.Report `json:"report"`
	}
	if json.Unmarshal(c.t.Evidence, &ev) != nil || len(ev.Report.Results) == 0 {
		return "the smoke tests failed: " + c.cause()
	}
	var failed []smoke.Result
	for _, r := range ev.Report.Results {
		if !r.Passed {
			failed = append(failed, r)
		}
	}
	if len(failed) == 0 {
		return "the smoke tests failed: " + c.cause()
	}
	f := failed[0]
	why := f.Error
	if why == "" && f.Status != 0 {
		why = fmt.Sprintf("it answered %d", f.Status)
	}
	return fmt.Sprintf("%d of %d smoke tests failed; the first, %q (%s), failed: %s", len(failed), len(ev.Report.Results), f.Name, f.Target, why)
}

func (c scene) hookFailed() string {
	var rs []hook.Result
	if json.Unmarshal(c.t.Evidence, &rs) != nil || len(rs) == 0 {
		return "a hook failed: " + c.cause()
	}
	r := rs[len(rs)-1]
	kind := "the pre-deploy hook"
	switch c.t.From {
	case rollout.Promoting:
		kind = "the post_promote hook"
	case rollout.RollingBack:
		kind = "the post_rollback hook"
	}
	s := fmt.Sprintf("%s %q (`%s`) ", kind, r.Name, r.Command)
	switch {
	case r.TimedOut:
		s += fmt.Sprintf("ran past its time limit (%s)", dur(r.Duration))
	case r.ExitCode < 0:
		s += "did not run to the end"
	default:
		s += fmt.Sprintf("exited with code %d", r.ExitCode)
	}
	if last := lastLine(r.Output); last != "" {
		s += fmt.Sprintf("; the last line it printed: %q", last)
	}
	return s
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if len(last) > 120 {
		last = last[:120] + "…"
	}
	return last
}

// override tells a person's command.
func (c scene) override() Decision {
	who := c.t.Actor
	said := ""
	if w := c.words(); w != "" {
		said = fmt.Sprintf(", saying %q", w)
	}
	var s string
	switch c.t.Command {
	case rollout.CmdPause:
		s = fmt.Sprintf("%s paused the rollout by hand%s; traffic stays as it is until someone resumes it", who, said)
	case rollout.CmdResume:
		s = fmt.Sprintf("%s resumed the rollout by hand%s", who, said)
	case rollout.CmdPromote:
		s = fmt.Sprintf("%s promoted the new version by hand%s, skipping the rest of the analysis", who, said)
	case rollout.CmdApprove:
		s = fmt.Sprintf("%s approved the deployment to %s%s", who, c.st.Environment, said)
	case rollout.CmdAbort, rollout.CmdRollback:
		verb := "aborted the rollout"
		if c.t.Command == rollout.CmdRollback {
			verb = "rolled back"
		}
		s = fmt.Sprintf("%s %s by hand%s", who, verb, said)
		switch {
		case c.t.To == rollout.Failed:
			s += "; nothing of the new version was serving, so nothing moved"
		case c.stable() != "":
			s += "; all traffic goes back to " + c.stable()
		default:
			s += "; the new version is stopped, as there is no earlier version to go back to"
		}
	default:
		s = sentence(c.t.Reason)
	}
	d := Decision{Story: []string{s}}
	if c.t.To == rollout.Paused {
		d.Next = c.decide()
	}
	return d
}

// words is what the person gave as their reason, out of the engine's audit
// line ("pause by bob: looking at logs").
func (c scene) words() string {
	s, ok := strings.CutPrefix(c.t.Reason, fmt.Sprintf("%s by %s", c.t.Command, c.t.Actor))
	if !ok {
		return ""
	}
	s = strings.TrimPrefix(s, ": ")
	s = strings.TrimSuffix(s, " (analysis skipped)")
	for _, tail := range []string{"; nothing was deployed", "; the rollback did not finish"} {
		s, _, _ = strings.Cut(s, tail)
	}
	return strings.TrimSpace(s)
}

// step tells a transition that is the phase's own progress.
func (c scene) step() Decision {
	st, t := c.st, c.t
	v := st.New.Version
	switch {
	case t.Cause == rollout.Held:
		return story(t.Reason)
	case t.To == rollout.AwaitingApproval:
		return Decision{Story: []string{st.Environment + " needs an approval before belay deploys to it"},
			Next: fmt.Sprintf("approve it: `belay approve %s --env %s --reason …`", st.Release, st.Environment)}
	case t.From == rollout.Pending:
		return story("belay started releasing " + v + " to " + st.Environment)
	case t.From == rollout.Verifying:
		return story("the artifact checked out: its digest and signature match the build that was released")
	case t.From == rollout.InfrastructurePlan:
		return story(c.infraFound())
	case t.From == rollout.Migrating:
		return story("the pre-deploy hooks (migrations) succeeded")
	case t.From == rollout.Deploying && st.Stable != nil:
		return story("the new version started and passed its health checks beside " + st.Stable.Version + "; it takes no user traffic yet")
	case t.From == rollout.Deploying:
		return story("the new version started and passed its health checks")
	case t.From == rollout.SmokeTesting:
		return story(c.smokePassed())
	case t.From == rollout.Canary && t.To == rollout.Canary:
		return story("the new version now takes " + c.share(t.Step))
	case t.From == rollout.Watching && t.To == rollout.Watching:
		return story(fmt.Sprintf("the new version takes all traffic; belay watches it for %s", dur(st.Watch)))
	case t.From == rollout.Watching && t.To == rollout.Promoting:
		return story(fmt.Sprintf("the new version took all traffic for %s and none of your rollback rules fired, so %s", dur(st.Watch), c.then()))
	case t.To == rollout.Succeeded:
		return story(v + " is now the stable version in " + st.Environment)
	case t.To == rollout.RolledBack:
		return c.rolledBack()
	}
	return story(t.Reason)
}

func story(s ...string) Decision { return Decision{Story: s} }

func (c scene) smokePassed() string {
	var ev struct {
		Report smoke.Report `json:"report"`
	}
	if json.Unmarshal(c.t.Evidence, &ev) == nil && len(ev.Report.Results) > 0 {
		return fmt.Sprintf("the smoke tests passed (%d of %d)", len(ev.Report.Results), len(ev.Report.Results))
	}
	return "the smoke tests passed"
}

func (c scene) rolledBack() Decision {
	v := c.st.New.Version
	if c.st.Kind == rollout.KindRollback {
		return story(c.stable() + " serves all traffic in " + c.st.Environment + " again")
	}
	if to := c.stable(); to != "" {
		return story("all traffic is back on " + to + "; " + v + " is marked rejected and is not a rollback target again without --force")
	}
	return story(v + " is stopped; nothing of it runs, and it is marked rejected")
}
