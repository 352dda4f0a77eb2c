package secret

import (
	"encoding/json"
	"html/template"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Redactor replaces known secret values with "[redacted NAME]" in text belay
// shows or keeps. It learns values as they are handed out (Add), so whatever
// a service or hook later echoes is hidden too. Safe for concurrent use.
type Redactor struct {
	mu   sync.Mutex
	repl *strings.Replacer
	// byValue maps each form of a value (as is, as it reads inside a JSON
	// string, and as an HTML page shows it) to its replacement.
	byValue map[string]string
}

// htmlForm writes a value as the dashboard's templates do (html/template
// escapes more than html.EscapeString: '+' and quotes as numeric references).
var htmlForm = template.Must(template.New("").Parse("{{.}}"))

// Mark is what a value of the secret name is replaced by.
func Mark(name string) string { return "[redacted " + name + "]" }

// Add makes r redact value as name's. Values shorter than MinValueLen are
// never kept as secrets, so never added.
func (r *Redactor) Add(name, value string) {
	if len(value) < MinValueLen {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byValue == nil {
		r.byValue = map[string]string{}
	}
	forms := []string{value}
	if b, err := json.Marshal(value); err == nil {
		forms = append(forms, string(b[1:len(b)-1]))
	}
	var page strings.Builder
	if htmlForm.Execute(&page, value) == nil && page.String() != value {
		forms = append(forms, page.String())
	}
	changed := false
	for _, f := range forms {
		if r.byValue[f] != Mark(name) {
			r.byValue[f], changed = Mark(name), true
		}
	}
	if changed {
		r.repl = nil
	}
}

// AddAll adds every secret of s.
func (r *Redactor) AddAll(s Set) {
	for name, v := range s {
		r.Add(name, v)
	}
}

func (r *Redactor) replacer() *strings.Replacer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.repl == nil && len(r.byValue) > 0 {
		// Longest first, so that a value containing another is replaced whole.
		values := slices.SortedFunc(maps.Keys(r.byValue), func(a, b string) int { return len(b) - len(a) })
		pairs := make([]string, 0, 2*len(values))
		for _, v := range values {
			pairs = append(pairs, v, r.byValue[v])
		}
		r.repl = strings.NewReplacer(pairs...)
	}
	return r.repl
}

// String is s with every known value replaced. A nil Redactor knows none.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	if repl := r.replacer(); repl != nil {
		return repl.Replace(s)
	}
	return s
}

// Bytes is b with every known value replaced; b itself when none occurs.
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil || len(b) == 0 {
		return b
	}
	s := string(b)
	if out := r.String(s); out != s {
		return []byte(out)
	}
	return b
}

// Error is err with its message redacted; errors.Is and As still see err.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	if msg := r.String(err.Error()); msg != err.Error() {
		return redactedError{err, msg}
	}
	return err
}

type redactedError struct {
	err error
	msg string
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }
