// Package tofu reads OpenTofu and Terraform plans as evidence: the JSON that
// `tofu show -json PLANFILE` (or terraform's) prints, parsed with
// github.com/hashicorp/terraform-json. It lists each resource change with
// its action, flags deletes and replaces as destructive, lists the drift the
// plan found, and gives the plan a stable hash for an approval to bind to
// (docs/parity.md, "OpenTofu and Terraform plans").
//
// `belay plan --tofu DIR|FILE` sends the plan's JSON to the server, which
// parses it with Parse and stores it with belay's plan (internal/infra).
package tofu

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// Actions as belay names them: replace is tofu's ["delete","create"] or
// ["create","delete"] pair.
const (
	Create  = "create"
	Update  = "update"
	Delete  = "delete"
	Replace = "replace"
	NoOp    = "no-op"
	Read    = "read"
	Forget  = "forget"
)

// Plan is a tofu or terraform plan as belay shows it.
type Plan struct {
	// Source is the file the plan was read from.
	Source           string `json:"source"`
	FormatVersion    string `json:"format_version"`
	TerraformVersion string `json:"terraform_version,omitempty"`
	// Hash is sha256 of the plan's canonical JSON (keys sorted, no
	// spacing, the top-level timestamp left out), "sha256:HEX": the same
	// plan hashes the same however it was printed.
	Hash string `json:"hash"`
	// Changes are resource_changes, in address order.
	Changes []Change `json:"changes"`
	// Drift is resource_drift: what changed outside tofu since the last
	// apply, found while planning.
	Drift []Change `json:"drift,omitempty"`
	// Destructive is true when a change deletes or replaces a resource.
	Destructive bool `json:"destructive"`
	// Counts is how many changes have each action.
	Counts map[string]int `json:"counts"`
}

// Change is one resource's planned change.
type Change struct {
	Address  string `json:"address"`
	Type     string `json:"type,omitempty"`
	Provider string `json:"provider,omitempty"`
	// Action is create, update, delete, replace, no-op, read or forget.
	Action string `json:"action"`
	// Order, for a replace: delete_before_create or create_before_destroy.
	Order string `json:"order,omitempty"`
	// Actions are tofu's own, as in the plan.
	Actions []string `json:"actions"`
	// Destructive is true for delete and replace.
	Destructive bool `json:"destructive"`
	// Reason is tofu's action_reason (replace_because_tainted, …).
	Reason string `json:"reason,omitempty"`
	// Fields are the top-level attributes whose value changes.
	Fields []Field `json:"fields,omitempty"`
}

// Field is one attribute's change; values are JSON, or (sensitive) or
// (known after apply).
type Field struct {
	Name   string `json:"name"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// Values that a plan does not show.
const (
	Sensitive = "(sensitive)"
	Unknown   = "(known after apply)"
	None      = "(none)"
)

// PlanFiles are the names Load looks for in a directory.
var PlanFiles = []string{"plan.json", "tfplan.json"}

// Load reads a plan: path is the JSON file `tofu show -json PLANFILE`
// printed, or a directory holding one named plan.json or tfplan.json.
func Load(path string) (*Plan, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read tofu plan: %w", err)
	}
	if fi.IsDir() {
		dir := path
		path = ""
		for _, name := range PlanFiles {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				path = filepath.Join(dir, name)
				break
			}
		}
		if path == "" {
			return nil, fmt.Errorf("%s holds no %s: write one with tofu plan -out=tfplan && tofu show -json tfplan > %s",
				dir, strings.Join(PlanFiles, " or "), filepath.Join(dir, PlanFiles[0]))
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tofu plan: %w", err)
	}
	return Parse(path, data)
}

// Parse reads plan JSON; name is used in errors.
func Parse(name string, data []byte) (*Plan, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%s: empty file: expected the JSON that tofu show -json PLANFILE prints", name)
	}
	if trimmed[0] != '{' {
		hint := "expected the JSON that tofu show -json PLANFILE prints"
		if bytes.HasPrefix(trimmed, []byte("PK")) {
			hint = "this is a binary plan file: convert it with tofu show -json " + filepath.Base(name) + " > plan.json"
		}
		return nil, fmt.Errorf("%s: not a JSON plan: %s", name, hint)
	}
	var tp tfjson.Plan
	if err := json.Unmarshal(data, &tp); err != nil {
		return nil, fmt.Errorf("%s: %s", name, describeJSONError(data, err))
	}
	p := &Plan{Source: name, FormatVersion: tp.FormatVersion, TerraformVersion: tp.TerraformVersion, Counts: map[string]int{}, Changes: []Change{}}
	h, err := hash(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p.Hash = h
	for i, rc := range tp.ResourceChanges {
		c, err := change(rc, fmt.Sprintf("resource_changes[%d]", i))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		p.Changes = append(p.Changes, c)
		p.Counts[c.Action]++
		p.Destructive = p.Destructive || c.Destructive
	}
	for i, rc := range tp.ResourceDrift {
		c, err := change(rc, fmt.Sprintf("resource_drift[%d]", i))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		p.Drift = append(p.Drift, c)
	}
	sort.SliceStable(p.Changes, func(i, j int) bool { return p.Changes[i].Address < p.Changes[j].Address })
	sort.SliceStable(p.Drift, func(i, j int) bool { return p.Drift[i].Address < p.Drift[j].Address })
	return p, nil
}

func change(rc *tfjson.ResourceChange, at string) (Change, error) {
	if rc == nil {
		return Change{}, fmt.Errorf("%s is null: expected an object with address and change", at)
	}
	if rc.Address == "" {
		return Change{}, fmt.Errorf("%s has no address", at)
	}
	if rc.Change == nil || len(rc.Change.Actions) == 0 {
		return Change{}, fmt.Errorf("%s (%s) has no change.actions: expected e.g. [\"update\"] or [\"delete\",\"create\"]", at, rc.Address)
	}
	a := rc.Change.Actions
	c := Change{Address: rc.Address, Type: rc.Type, Provider: rc.ProviderName, Reason: string(rc.ActionReason)}
	for _, x := range a {
		c.Actions = append(c.Actions, string(x))
	}
	switch {
	case a.DestroyBeforeCreate():
		c.Action, c.Order = Replace, "delete_before_create"
	case a.CreateBeforeDestroy():
		c.Action, c.Order = Replace, "create_before_destroy"
	case a.Create():
		c.Action = Create
	case a.Update():
		c.Action = Update
	case a.Delete():
		c.Action = Delete
	case a.NoOp():
		c.Action = NoOp
	case a.Read():
		c.Action = Read
	case a.Forget():
		c.Action = Forget
	default:
		return Change{}, fmt.Errorf("%s (%s) has actions %q, which no tofu or terraform plan holds: expected one of create, update, delete, no-op, read, forget or a delete/create pair", at, rc.Address, c.Actions)
	}
	c.Destructive = c.Action == Delete || c.Action == Replace
	c.Fields = fields(rc.Change)
	return c, nil
}

// fields lists the top-level attributes whose value differs between before
// and after, sensitive ones masked.
func fields(ch *tfjson.Change) []Field {
	before, _ := ch.Before.(map[string]any)
	after, _ := ch.After.(map[string]any)
	unknown, _ := ch.AfterUnknown.(map[string]any)
	bs, _ := ch.BeforeSensitive.(map[string]any)
	as, _ := ch.AfterSensitive.(map[string]any)
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	for k, v := range unknown {
		if v == true {
			keys[k] = true
		}
	}
	var out []Field
	for k := range keys {
		b, a := show(before, bs, k), show(after, as, k)
		if unknown[k] == true {
			a = Unknown
		}
		if b == a && b != Sensitive {
			continue
		}
		if b == Sensitive && a == Sensitive && canon(before[k]) == canon(after[k]) {
			continue
		}
		out = append(out, Field{Name: k, Before: b, After: a})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func show(vals, sensitive map[string]any, k string) string {
	v, ok := vals[k]
	switch {
	case !ok:
		return None
	case anyTrue(sensitive[k]):
		return Sensitive
	}
	return canon(v)
}

// anyTrue reports whether a before_sensitive / after_sensitive value marks
// anything sensitive: true, or a true anywhere inside; a value with a
// sensitive part is masked whole.
func anyTrue(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case map[string]any:
		for _, x := range v {
			if anyTrue(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if anyTrue(x) {
				return true
			}
		}
	}
	return false
}

func canon(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// hash is sha256 of the canonical JSON of the whole plan less its
// timestamp: encoding/json sorts object keys, and numbers keep their text.
func hash(data []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("hash plan: %w", err)
	}
	delete(v, "timestamp")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("hash plan: %w", err)
	}
	sum := sha256.Sum256(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// describeJSONError says where a JSON plan went wrong: line and column for
// a syntax error, the field for a wrong type, or terraform-json's own
// complaint about the format version.
func describeJSONError(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		l, c := lineCol(data, se.Offset)
		return fmt.Sprintf("line %d, column %d: invalid JSON: %v; expected the JSON that tofu show -json PLANFILE prints", l, c, se)
	case errors.As(err, &te):
		l, c := lineCol(data, te.Offset)
		want := te.Type.String()
		switch te.Type.Kind() {
		case reflect.Slice, reflect.Array:
			want = "a list"
		case reflect.Map, reflect.Struct, reflect.Pointer:
			want = "an object"
		}
		return fmt.Sprintf("line %d, column %d: %s is %s, expected %s", l, c, te.Field, te.Value, want)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early: the file is cut short"
	}
	return "not a plan belay can read: " + err.Error() + " (tofu and terraform 0.12 and later write format_version 0.1 to 1.x)"
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	pre := data[:off]
	line := bytes.Count(pre, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(pre, '\n')
	return line, col
}

// PrintText writes the plan for a reviewer: a summary, one line per change
// that does something (no-op and read are counted, not listed), each
// changing field, and the drift.
func (p *Plan) PrintText(w io.Writer) {
	var parts []string
	for _, a := range []string{Create, Update, Replace, Delete, Read, Forget, NoOp} {
		if n := p.Counts[a]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, a))
		}
	}
	if len(parts) == 0 {
		parts = []string{"no changes"}
	}
	fmt.Fprintf(w, "tofu plan %s (%s): %s\n", p.Source, p.Hash, strings.Join(parts, ", "))
	if p.Destructive {
		fmt.Fprintln(w, "DESTRUCTIVE: the plan deletes or replaces resources")
	}
	for _, c := range p.Changes {
		if c.Action == NoOp || c.Action == Read {
			continue
		}
		printChange(w, "  ", c)
	}
	if len(p.Drift) > 0 {
		fmt.Fprintf(w, "drift (changed outside tofu since the last apply):\n")
		for _, c := range p.Drift {
			printChange(w, "  ", c)
		}
	}
}

func printChange(w io.Writer, indent string, c Change) {
	mark := ""
	if c.Destructive {
		mark = "  [destructive]"
	}
	how := c.Action
	if c.Order != "" {
		how += " (" + strings.ReplaceAll(c.Order, "_", " ") + ")"
	}
	if c.Reason != "" {
		how += ", " + c.Reason
	}
	fmt.Fprintf(w, "%s%-8s %s%s\n", indent, how, c.Address, mark)
	if c.Action != Update && c.Action != Replace {
		return
	}
	for _, f := range c.Fields {
		fmt.Fprintf(w, "%s    %s: %s → %s\n", indent, f.Name, f.Before, f.After)
	}
}
