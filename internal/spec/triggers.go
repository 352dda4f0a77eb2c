package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Triggers is a rollback_trigger list: one trigger line per item, parsed with
// ParseTrigger.
type Triggers []Trigger

func (ts *Triggers) decodeNode(d *decoder, n *yaml.Node, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list of trigger lines such as - error_rate > 1%% for 5m, got %s", describe(n))
		return
	}
	out := Triggers{}
	for i, c := range n.Content {
		p := index(path, i)
		if c = d.resolve(c); c == nil {
			return
		}
		d.pos[p] = posOf(c)
		if c.Kind != yaml.ScalarNode || isNull(c) {
			d.errorf(c, p, "expected a trigger line such as error_rate > 1%% for 5m, got %s", describe(c))
			continue
		}
		t, err := ParseTrigger(c.Value)
		if f := lex(strings.TrimSpace(c.Value)); err != nil && len(f) > 0 && metricNameRE.MatchString(f[0]) {
			if _, builtin := KindOf(Metric(f[0])); !builtin {
				// maybe a metric of metrics:, which may come later in the file
				t = Trigger{Raw: strings.TrimSpace(c.Value), Metric: Metric(f[0]), pending: true, at: p}
				err = nil
			}
		}
		if err != nil {
			d.addErr(posOf(c), p, ErrTrigger, err.Error())
			continue
		}
		out = append(out, t)
	}
	*ts = out
}

// ActionVerb is what one rollback action does.
type ActionVerb string

// Rollback action verbs.
const (
	ActionDeploy      ActionVerb = "deploy"       // deploy previous_stable
	ActionDisableFlag ActionVerb = "disable_flag" // disable_flag NAME
	ActionEnableFlag  ActionVerb = "enable_flag"  // enable_flag NAME
)

// PreviousStable is the only artifact a rollback deploys.
const PreviousStable = "previous_stable"

// ErrAction marks a rollback_action that does not parse.
var ErrAction = errors.New("invalid rollback action")

// RollbackAction is one parsed rollback action line, e.g. "deploy previous_stable".
type RollbackAction struct {
	Verb ActionVerb `json:"verb"`
	Arg  string     `json:"arg"`
}

func (a RollbackAction) String() string { return string(a.Verb) + " " + a.Arg }

// MarshalJSON writes the action as its line.
func (a RollbackAction) MarshalJSON() ([]byte, error) { return json.Marshal(a.String()) }

// ParseRollbackAction parses "deploy previous_stable", "disable_flag NAME" or
// "enable_flag NAME".
func ParseRollbackAction(s string) (RollbackAction, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return RollbackAction{}, fmt.Errorf("%w %q: expected \"deploy previous_stable\", \"disable_flag NAME\" or \"enable_flag NAME\"", ErrAction, s)
	}
	a := RollbackAction{Verb: ActionVerb(f[0]), Arg: f[1]}
	switch a.Verb {
	case ActionDeploy:
		if a.Arg != PreviousStable {
			return a, fmt.Errorf("%w %q: a rollback can only deploy previous_stable", ErrAction, s)
		}
	case ActionDisableFlag, ActionEnableFlag:
		if !flagRE.MatchString(a.Arg) {
			return a, fmt.Errorf("%w %q: flag name %q must be letters, digits, '_', '-' or '.'", ErrAction, s, a.Arg)
		}
	default:
		verbs := []string{string(ActionDeploy), string(ActionDisableFlag), string(ActionEnableFlag)}
		return a, fmt.Errorf("%w %q: unknown action %q%s; known: %s", ErrAction, s, f[0], suggest(f[0], verbs), strings.Join(verbs, ", "))
	}
	return a, nil
}

// RollbackActions run in order when a release rolls back. YAML accepts one
// line or a list of lines.
type RollbackActions []RollbackAction

func (as *RollbackActions) decodeNode(d *decoder, n *yaml.Node, path string) {
	var items []*yaml.Node
	switch {
	case isNull(n):
		return
	case n.Kind == yaml.ScalarNode:
		items = []*yaml.Node{n}
	case n.Kind == yaml.SequenceNode:
		items = n.Content
	default:
		d.errorf(n, path, "expected an action such as deploy previous_stable, or a list of actions, got %s", describe(n))
		return
	}
	out := RollbackActions{}
	for i, c := range items {
		p := path
		if n.Kind == yaml.SequenceNode {
			p = index(path, i)
		}
		if c = d.resolve(c); c == nil {
			return
		}
		d.pos[p] = posOf(c)
		if c.Kind != yaml.ScalarNode || isNull(c) {
			d.errorf(c, p, "expected an action line such as deploy previous_stable, got %s", describe(c))
			continue
		}
		a, err := ParseRollbackAction(c.Value)
		if err != nil {
			d.addErr(posOf(c), p, ErrAction, err.Error())
			continue
		}
		out = append(out, a)
	}
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		d.errorf(n, path, "empty list: give at least one action, e.g. deploy previous_stable")
	}
	*as = out
}

var flagRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)
