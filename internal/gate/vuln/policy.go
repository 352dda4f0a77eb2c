package vuln

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ErrPolicy is wrapped by every error about a policy file.
var ErrPolicy = errors.New("invalid vulnerability policy")

// DefaultPolicyFile is the policy read from the project's directory when
// no --policy is given, if it exists.
const DefaultPolicyFile = "belay-vulns.yaml"

// Rule is a word of the policy's `block` list; a finding blocks when any
// rule matches it.
//
//   - critical, high, medium, low, unknown: the finding has that severity
//     (and no call analysis found it not called);
//   - critical_with_fix, high_with_fix, …: the same, and a fixed version
//     exists, so upgrading unblocks;
//   - called: a call analysis (govulncheck, osv-scanner's for Go) found the
//     vulnerable function called from the scanned code, whatever the
//     severity: the Go vulnerability database rates none.
type Rule string

const (
	withFix    = "_with_fix"
	RuleCalled = Rule("called")
)

// DefaultRules is the `block` list of a policy that does not give one.
var DefaultRules = []Rule{"critical", "high_with_fix", RuleCalled}

// Rules lists every rule word, for help and errors.
func Rules() []Rule {
	var rs []Rule
	for _, s := range Severities {
		rs = append(rs, Rule(s), Rule(string(s)+withFix))
	}
	return append(rs, RuleCalled)
}

// Policy says which findings block a release and which are waived.
type Policy struct {
	File    string   `json:"file,omitempty"` // where it was read; empty for the default
	Block   []Rule   `json:"block"`
	Waivers []Waiver `json:"waivers"`
}

// Waiver accepts a vulnerability, by id or alias, until it expires.
type Waiver struct {
	ID      string `json:"id"`
	Reason  string `json:"reason"`
	Expires string `json:"expires"` // YYYY-MM-DD; the waiver holds through that day (UTC)
	Line    int    `json:"line,omitempty"`
}

// Place is the waiver's file:line, for messages.
func (w Waiver) place(file string) string {
	if file == "" {
		return "waiver " + w.ID
	}
	return fmt.Sprintf("%s:%d", file, w.Line)
}

// expired reports whether w no longer holds at now: it holds through its
// expiry date, UTC. A date that does not parse (ParsePolicy refuses those)
// counts as expired.
func (w Waiver) expired(now time.Time) bool {
	day, err := time.Parse(time.DateOnly, w.Expires)
	return err != nil || !now.Before(day.AddDate(0, 0, 1))
}

// DefaultPolicy is the policy without a file: DefaultRules, no waivers.
func DefaultPolicy() Policy { return Policy{Block: slices.Clone(DefaultRules)} }

// ParsePolicy reads a policy file named name:
//
//	block: [critical, high_with_fix, called]
//	waivers:
//	  - id: GHSA-c3h9-896r-86jm
//	    reason: we only unmarshal our own messages
//	    expires: 2027-01-31
//
// Every waiver needs an id, a reason and an expiry date. A missing block
// list is DefaultRules; an empty one blocks nothing. Whether a waiver has
// expired is for Evaluate, which knows the time.
func ParsePolicy(name string, data []byte) (Policy, error) {
	p := Policy{File: name, Block: slices.Clone(DefaultRules)}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return p, errorf(ErrPolicy, "%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 { // an empty file
		return p, nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return p, errorf(ErrPolicy, "%s:%d: a policy is a mapping with block and waivers", name, top.Line)
	}
	var errs []error
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "block":
			rules, err := parseRules(name, v)
			p.Block = rules
			errs = append(errs, err)
		case "waivers":
			if v.Kind != yaml.SequenceNode {
				errs = append(errs, errorf(ErrPolicy, "%s:%d: waivers is a list of waivers, each with id, reason and expires", name, v.Line))
				continue
			}
			for _, n := range v.Content {
				errs = append(errs, p.addWaiver(name, n))
			}
		default:
			errs = append(errs, errorf(ErrPolicy, "%s:%d: unknown field %q: a policy has block and waivers", name, k.Line, k.Value))
		}
	}
	return p, errors.Join(errs...)
}

// parseRules reads the block list.
func parseRules(file string, n *yaml.Node) ([]Rule, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, errorf(ErrPolicy, "%s:%d: block is a list of rules, such as [critical, high_with_fix, called]", file, n.Line)
	}
	rules := []Rule{}
	var errs []error
	for _, e := range n.Content {
		r := Rule(strings.ToLower(strings.TrimSpace(e.Value)))
		if e.Kind != yaml.ScalarNode || !slices.Contains(Rules(), r) {
			errs = append(errs, errorf(ErrPolicy, "%s:%d: block: unknown rule %q: the rules are %s", file, e.Line, e.Value, ruleList()))
			continue
		}
		rules = append(rules, r)
	}
	return rules, errors.Join(errs...)
}

// addWaiver reads one waiver into p, refusing a second one for an id.
func (p *Policy) addWaiver(file string, n *yaml.Node) error {
	w, err := parseWaiver(file, n)
	if err != nil {
		return err
	}
	if j := slices.IndexFunc(p.Waivers, func(o Waiver) bool { return strings.EqualFold(o.ID, w.ID) }); j >= 0 {
		return errorf(ErrPolicy, "%s:%d: a second waiver for %s (the first is on line %d): keep one", file, w.Line, w.ID, p.Waivers[j].Line)
	}
	p.Waivers = append(p.Waivers, w)
	return nil
}

func ruleList() string {
	var s []string
	for _, r := range Rules() {
		s = append(s, string(r))
	}
	return strings.Join(s, ", ")
}

// parseWaiver reads one `waivers` entry, checking its keys by hand so that
// errors carry its line.
func parseWaiver(file string, n *yaml.Node) (Waiver, error) {
	w := Waiver{Line: n.Line}
	bad := func(format string, a ...any) error {
		return errorf(ErrPolicy, "%s:%d: %s", file, n.Line, fmt.Sprintf(format, a...))
	}
	if n.Kind != yaml.MappingNode {
		return w, bad("a waiver is a mapping with id, reason and expires")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return w, bad("waiver field %s must be a single value", k)
		}
		switch k {
		case "id":
			w.ID = strings.TrimSpace(v.Value)
		case "reason":
			w.Reason = strings.TrimSpace(v.Value)
		case "expires":
			w.Expires = strings.TrimSpace(v.Value)
		default:
			return w, bad("unknown waiver field %q: a waiver has id, reason and expires", k)
		}
	}
	switch {
	case w.ID == "":
		return w, bad("a waiver without an id: name the vulnerability (GHSA-…, CVE-…, GO-…)")
	case w.Reason == "":
		return w, bad("the waiver for %s has no reason: say why the vulnerability does not matter here, so whoever renews it can judge", w.ID)
	case w.Expires == "":
		return w, bad("the waiver for %s has no expires: give the date (YYYY-MM-DD) until which it holds; waivers do not last forever", w.ID)
	}
	if _, err := time.Parse(time.DateOnly, w.Expires); err != nil {
		return w, bad("the waiver for %s expires %q, which is not a date: write YYYY-MM-DD", w.ID, w.Expires)
	}
	return w, nil
}
