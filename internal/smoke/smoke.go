// Package smoke runs a service's smoke tests — HTTP requests with expected
// answers, or commands — against a base URL (a new version directly, or the
// proxy in front of it), keeping per-test results as evidence.
package smoke

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrFailed marks a run in which at least one test failed.
var ErrFailed = errors.New("smoke tests failed")

// DefaultTimeout bounds one test that declares none.
const DefaultTimeout = 10 * time.Second

// Test is one smoke test: exactly one of HTTP or Command.
type Test struct {
	Name    string        `json:"name"`
	HTTP    *HTTP         `json:"http,omitempty"`
	Command string        `json:"command,omitempty"` // sh -c, with BASE_URL set
	Timeout time.Duration `json:"timeout,omitempty"`
}

// HTTP is a request and what its answer must be.
type HTTP struct {
	Method       string            `json:"method,omitempty"` // GET when empty
	Path         string            `json:"path"`
	Header       map[string]string `json:"header,omitempty"`
	Body         string            `json:"body,omitempty"`
	ExpectStatus int               `json:"expect_status,omitempty"` // 200 when zero
	BodyContains string            `json:"body_contains,omitempty"`
	// JSON maps dotted paths (data.items.0.id) to the values they must equal.
	JSON map[string]any `json:"json,omitempty"`
}

// Result is one test's outcome.
type Result struct {
	Name     string        `json:"name"`
	Target   string        `json:"target"` // URL requested or command run
	Passed   bool          `json:"passed"`
	Status   int           `json:"status,omitempty"`
	Error    string        `json:"error,omitempty"`  // why it failed
	Output   string        `json:"output,omitempty"` // body excerpt or command output
	Duration time.Duration `json:"duration"`
	// Attempts counts the requests of an HTTP test when more than one was
	// needed: a request that got no answer at all is sent again (see runHTTP).
	Attempts int `json:"attempts,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	BaseURL string   `json:"base_url"`
	Passed  bool     `json:"passed"`
	Results []Result `json:"results"`
}

// Failures lists the failed tests as "name: why".
func (r Report) Failures() []string {
	var out []string
	for _, res := range r.Results {
		if !res.Passed {
			out = append(out, res.Name+": "+res.Error)
		}
	}
	return out
}

// Validate reports a test that cannot run.
func (t Test) Validate() error {
	switch {
	case t.HTTP == nil && t.Command == "":
		return fmt.Errorf("smoke test %q: set http or command", t.Name)
	case t.HTTP != nil && t.Command != "":
		return fmt.Errorf("smoke test %q: set http or command, not both", t.Name)
	case t.HTTP != nil && !strings.HasPrefix(t.HTTP.Path, "/"):
		return fmt.Errorf("smoke test %q: path %q must start with /", t.Name, t.HTTP.Path)
	}
	return nil
}

// Run runs every test in order against baseURL (every test runs, so the
// report shows all that is wrong) and returns ErrFailed when one failed.
func Run(ctx context.Context, client *http.Client, baseURL string, tests []Test) (Report, error) {
	if client == nil {
		client = http.DefaultClient
	}
	baseURL = strings.TrimRight(baseURL, "/")
	rep := Report{BaseURL: baseURL, Passed: true}
	for _, t := range tests {
		var res Result
		if err := t.Validate(); err != nil {
			res = Result{Name: t.Name, Error: err.Error()}
		} else if t.HTTP != nil {
			res = runHTTP(ctx, client, baseURL, t)
		} else {
			res = runCommand(ctx, baseURL, t)
		}
		rep.Passed = rep.Passed && res.Passed
		rep.Results = append(rep.Results, res)
	}
	if !rep.Passed {
		return rep, fmt.Errorf("%w against %s: %s", ErrFailed, baseURL, strings.Join(rep.Failures(), "; "))
	}
	return rep, nil
}

func timeout(t Test) time.Duration {
	if t.Timeout > 0 {
		return t.Timeout
	}
	return DefaultTimeout
}
