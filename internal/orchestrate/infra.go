package orchestrate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/belay-dev/belay/internal/infra"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/spec"
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
