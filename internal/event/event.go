// Package event is belay's event model — the case study's JSON shape — and
// the sinks events go to (a JSON-lines file first; the API and webhooks later).
package event

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Types of events.
const (
	ArtifactPublished    = "artifact_published"
	DeploymentStarted    = "deployment_started"
	CanaryStep           = "canary_step"
	DeploymentPromoted   = "deployment_promoted"
	DeploymentRolledBack = "deployment_rolled_back"
	DeploymentFailed     = "deployment_failed"
	DeploymentPaused     = "deployment_paused"
	DeploymentResumed    = "deployment_resumed"
	ApprovalRequired     = "approval_required"
	ApprovalGranted      = "approval_granted"
	PhaseChanged         = "phase_changed"
)

// Event is one thing that happened, in the seed's shape plus identifiers.
type Event struct {
	// ID is stable across re-emission (a rollout re-emits after a crash), so
	// readers can drop duplicates.
	ID             string    `json:"id,omitempty"`
	Event          string    `json:"event"`
	Time           time.Time `json:"time"`
	Service        string    `json:"service,omitempty"`
	Version        string    `json:"version,omitempty"`
	Environment    string    `json:"environment,omitempty"`
	HealthStatus   string    `json:"health_status,omitempty"` // passing, failing, unknown
	ErrorRate      *float64  `json:"error_rate,omitempty"`    // percent, as in the seed (0.02 is 0.02 %)
	P95LatencyMS   *float64  `json:"p95_latency_ms,omitempty"`
	Release        string    `json:"release,omitempty"`
	Rollout        string    `json:"rollout,omitempty"`
	PreviousStable string    `json:"previous_stable,omitempty"`
	Phase          string    `json:"phase,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	Actor          string    `json:"actor,omitempty"`
	Digest         string    `json:"digest,omitempty"`
	// Evidence carries the numbers behind a decision (verdicts, smoke results).
	Evidence json.RawMessage `json:"evidence,omitempty"`
}

// Sink receives events.
type Sink interface {
	Emit(ctx context.Context, e Event) error
}

// File appends events as JSON lines; each event is one write on an O_APPEND
// file, so concurrent writers never interleave within a line.
type File struct {
	path string
	mu   sync.Mutex
}

var _ Sink = (*File)(nil)

// NewFile returns a sink appending to path (created with its directory).
func NewFile(path string) *File { return &File{path: path} }

// Path is the file events are appended to.
func (f *File) Path() string { return f.path }

// Emit appends e as one line.
func (f *File) Emit(_ context.Context, e Event) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", e.Event, err)
	}
	b = append(b, '\n')
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
		return fmt.Errorf("event log: %w", err)
	}
	fh, err := os.OpenFile(f.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("event log: %w", err)
	}
	if _, err := fh.Write(b); err != nil {
		fh.Close()
		return fmt.Errorf("event log %s: %w", f.path, err)
	}
	return fh.Close()
}

// ReadFile reads every event of a JSON-lines file.
func ReadFile(path string) ([]Event, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Event
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var e Event
		if err := dec.Decode(&e); err != nil {
			return out, fmt.Errorf("%s: event %d: %w", path, len(out)+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}
