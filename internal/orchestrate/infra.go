package orchestrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/belay-dev/belay/internal/infra"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/target"
)

// infraChecker is the release path's Infrastructure Plan phase: it plans
// the environment's service stack (observing only: nothing is applied from
// the release path) and reads its drift. Pending changes or drift no one
// acknowledged stop the release under infrastructure.on_pending: block
// (the default) and are recorded as a warning under warn; a stack that
// cannot be checked (a secret missing, a server down) stops it under block
// too, saying so.
type infraChecker struct{ s *Orchestrator }

var _ rollout.InfraChecker = infraChecker{}

// infraEvidence is what the phase found, kept with its transition.
type infraEvidence struct {
	Summary  string             `json:"summary"`
	Policy   spec.PendingPolicy `json:"policy"`
	Warning  bool               `json:"warning,omitempty"`
	Pending  []infra.Change     `json:"pending,omitempty"`
	Drift    []infra.Drift      `json:"drift,omitempty"`
	Acked    []infra.Drift      `json:"acknowledged,omitempty"`
	CheckErr string             `json:"error,omitempty"`
	// TargetDrift is what the target (Kubernetes) reports changed outside
	// belay in the service's objects; Adopted is set when the release
	// adopted it (belay release --adopt) and it was let through.
	TargetDrift []target.Drift `json:"target_drift,omitempty"`
	Adopted     string         `json:"adopted_by,omitempty"`
	TargetErr   string         `json:"target_error,omitempty"` // the target's drift could not be read

}

func (c infraChecker) CheckInfra(ctx context.Context, st rollout.State) (json.RawMessage, error) {
	p, err := c.s.d.Project()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", rollout.ErrActionFailed, err)
	}
	env := p.Environment(st.Environment)
	if env == nil {
		return nil, fmt.Errorf("%w: environment %s is no longer in belay.yaml", rollout.ErrActionFailed, st.Environment)
	}
	var ev infraEvidence
	if infra.Provisioned(p, st.Environment) {
		raw, err := c.checkStack(ctx, p, env, st)
		if err != nil {
			return raw, err
		}
		_ = json.Unmarshal(raw, &ev)
	}
	return c.checkDrift(ctx, st, ev)
}

// checkDrift asks a target that can tell (target.Drifter) what was changed
// outside belay in the service's objects since belay applied them: drift
// stops the rollout before anything is applied, unless the release adopted
// it, which is audited (rollout.drift.adopted) and let through. A target
// whose drift cannot be read stops it too: nothing is deployed over state
// no one could look at.
func (c infraChecker) checkDrift(ctx context.Context, st rollout.State, ev infraEvidence) (json.RawMessage, error) {
	d, ok := c.s.d.Target.(target.Drifter)
	if !ok {
		return mustJSON(ev), nil
	}
	drift, err := d.Drift(ctx, st.Environment, st.Service)
	join := func(s string) string {
		if ev.Summary == "" {
			return s
		}
		return ev.Summary + "; " + s
	}
	if err != nil {
		ev.TargetErr = err.Error()
		ev.Summary = join(fmt.Sprintf("the drift of %s in %s could not be read: %v", st.Service, st.Environment, err))
		return c.s.redactJSON(mustJSON(ev)), c.s.redact(blocked(ev.Summary + "; a release does not deploy over a target it cannot read: fix the access (the environment's kubernetes: block, the cluster) and release again"))
	}
	if len(drift) == 0 {
		if ev.Summary != "" { // a provisioned stack: its summary says enough
			return mustJSON(ev), nil
		}
		ev.Summary = fmt.Sprintf("no drift: %s in %s is as belay applied it", st.Service, st.Environment)
		return mustJSON(ev), nil
	}
	ev.TargetDrift = drift
	found := describeDrift(drift)
	if st.AdoptDrift == "" {
		ev.Summary = join(fmt.Sprintf("%s in %s was changed outside belay: %s", st.Service, st.Environment, found))
		return c.s.redactJSON(mustJSON(ev)), c.s.redact(blocked(fmt.Sprintf("%s; a release does not deploy over changes made outside belay: undo them, or adopt them with belay release --adopt (audited), which deploys over them",
			ev.Summary)))
	}
	ev.Adopted = st.AdoptDrift
	ev.Summary = join(fmt.Sprintf("drift adopted by %s: %s", st.AdoptDrift, found))
	detail := c.s.redactJSON(mustJSON(struct {
		Service     string         `json:"service"`
		Environment string         `json:"environment"`
		Drift       []target.Drift `json:"drift"`
	}{st.Service, st.Environment, drift}))
	if _, err := c.s.d.Store.AppendAudit(ctx, store.AuditEntry{At: c.s.d.Now().UTC(), Actor: st.AdoptDrift, Action: "rollout.drift.adopted",
		Subject: "rollout/" + st.ID, Reason: c.s.redact(errors.New(found)).Error(), Detail: detail}); err != nil {
		return nil, fmt.Errorf("recording the adoption of drift in the audit log: %w", err) // retried: nothing deployed yet
	}
	return c.s.redactJSON(mustJSON(ev)), nil
}

// describeDrift says each drifted field: object, field, what belay applied, what is there.
func describeDrift(ds []target.Drift) string {
	var each []string
	for _, d := range ds {
		each = append(each, fmt.Sprintf("%s %s: belay applied %q, found %q", d.Object, d.Field, d.Want, d.Found))
	}
	return fmt.Sprintf("%d drifted field(s): %s", len(ds), strings.Join(each, "; "))
}

// checkStack plans the environment's service stack and reads its drift.
func (c infraChecker) checkStack(ctx context.Context, p *spec.Project, env *spec.Environment, st rollout.State) (json.RawMessage, error) {
	var err error
	ev := infraEvidence{Policy: env.OnPendingInfra()}
	var chk infra.Check
	if c.s.d.Secrets == nil {
		err = fmt.Errorf("this server keeps no secrets, and the stack's servers are reached with secrets")
	} else {
		e := &infra.Engine{Store: c.s.d.Store, Secrets: c.s.d.Secrets.Values, Now: c.s.d.Now}
		chk, err = e.Check(ctx, p, st.Environment)
	}
	block := ev.Policy == spec.PendingBlock
	if err != nil {
		ev.CheckErr = err.Error()
		ev.Summary = fmt.Sprintf("the service stack of %s could not be checked: %v", st.Environment, err)
		if block {
			return c.s.redactJSON(mustJSON(ev)), c.s.redact(blocked(fmt.Sprintf("%s; a release does not deploy over an unchecked stack (infrastructure.on_pending: block): "+
				"fix the access (belay secrets, the servers) and release again", ev.Summary)))
		}
		ev.Warning, ev.Summary = true, "warning: "+ev.Summary+" (infrastructure.on_pending: warn)"
		return c.s.redactJSON(mustJSON(ev)), nil
	}
	ev.Pending, ev.Drift, ev.Acked = chk.Pending, chk.Drift, chk.Acknowledged
	if chk.Clean() {
		ev.Summary = fmt.Sprintf("the service stack of %s is as applied, with no unacknowledged drift", st.Environment)
		if len(chk.Acknowledged) > 0 {
			ev.Summary += fmt.Sprintf(" (%d acknowledged drifted fields let through)", len(chk.Acknowledged))
		}
		return mustJSON(ev), nil
	}
	found := describeCheck(chk)
	if block {
		ev.Summary = fmt.Sprintf("the service stack of %s has %s", st.Environment, found)
		return mustJSON(ev), blocked(fmt.Sprintf("%s; apply them (belay plan --env %s, belay plan approve, belay apply) or acknowledge the drift (belay drift ack --env %s KIND/NAME), then release again",
			ev.Summary, st.Environment, st.Environment))
	}
	ev.Warning = true
	ev.Summary = fmt.Sprintf("warning: the service stack of %s has %s (infrastructure.on_pending: warn)", st.Environment, found)
	return mustJSON(ev), nil
}

// describeCheck says what a check found, resource by resource.
func describeCheck(c infra.Check) string {
	var parts []string
	if n := len(c.Pending); n > 0 {
		var each []string
		for _, ch := range c.Pending {
			s := ch.Action + " " + ch.Kind + "/" + ch.Name
			var fields []string
			for _, d := range ch.Diffs {
				fields = append(fields, d.Field)
			}
			if len(fields) > 0 && ch.Action != infra.ActCreate {
				s += " (" + strings.Join(fields, ", ") + ")"
			}
			each = append(each, s)
		}
		parts = append(parts, fmt.Sprintf("%d unapplied changes: %s", n, strings.Join(each, "; ")))
	}
	if n := len(c.Drift); n > 0 {
		var each []string
		for _, d := range c.Drift {
			each = append(each, fmt.Sprintf("%s/%s %s expected %q found %q", d.Kind, d.Name, d.Field, d.Expected, d.Found))
		}
		parts = append(parts, fmt.Sprintf("%d drifted fields not acknowledged: %s", n, strings.Join(each, "; ")))
	}
	return strings.Join(parts, " and ")
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// blocked is the phase's final failure: its message is what was found,
// and it is an rollout.ErrActionFailed (the rollout fails, no retry).
type blocked string

func (b blocked) Error() string { return string(b) }
func (b blocked) Unwrap() error { return rollout.ErrActionFailed }
