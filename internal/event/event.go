// Package event is belay's event model — the case study's JSON shape — and
// the sinks events go to: a JSON-lines file, signed webhooks, CDEvents and
// Grafana annotations (docs/events.md).
package event

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	FlagChanged          = "flag_changed"    // a flag's run-time override was set or removed
	BackupTaken          = "backup_taken"    // a database dump (belay backup, or the server's schedule)
	BackupRestored       = "backup_restored" // a dump restored (belay restore)
	// InfraDrift: a resource of an environment's service stack changed on
	// its server since belay applied it (new drift, reported once).
	InfraDrift = "infra_drift"
	// InfraDriftResolved: drift reported before is gone.
	InfraDriftResolved = "infra_drift_resolved"
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
	Flag           string    `json:"flag,omitempty"` // the flag a flag_changed event is about
	// Evidence carries the numbers behind a decision (verdicts, smoke results).
	Evidence json.RawMessage `json:"evidence,omitempty"`
}

// Sink receives events.
type Sink interface {
	Emit(ctx context.Context, e Event) error
}

// Tee sends each event to every sink in order, stopping at the first error.
func Tee(sinks ...Sink) Sink { return tee(sinks) }

type tee []Sink

func (t tee) Emit(ctx context.Context, e Event) error {
	for _, s := range t {
		if err := s.Emit(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// File appends events as JSON lines; each event is one write on an O_APPEND
// file, so concurrent writers never interleave within a line.
//
// File writes an event with an ID once: an event re-sent after a crash is
// dropped if its ID is already in the file. On first use File reads the IDs
// in the last 8 MiB of the file (dedupTail), and before each write those of
// whatever was appended since, by it or by another process; it remembers
// the last 16384 IDs (dedupIDs). So an event re-sent after that many newer
// ones is written again, as is one that two processes write at the same
// moment; readers can drop those by ID.
type File struct {
	path    string
	mu      sync.Mutex
	started bool  // the tail was read
	read    int64 // offset up to which the file's IDs are in ids
	ids     recent
}

const (
	dedupTail = 8 << 20
	dedupIDs  = 16384
)

var _ Sink = (*File)(nil)

// NewFile returns a sink appending to path (created with its directory).
func NewFile(path string) *File { return &File{path: path} }

// Path is the file events are appended to.
func (f *File) Path() string { return f.path }

// Emit appends e as one line, unless an event with e's ID is in the file.
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
	fh, err := os.OpenFile(f.path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("event log: %w", err)
	}
	defer fh.Close()
	torn, err := f.catchUp(fh)
	if err != nil {
		return fmt.Errorf("event log %s: %w", f.path, err)
	}
	if e.ID != "" && f.ids.has(e.ID) {
		return nil
	}
	if torn { // a writer died mid-line: keep this event on a line of its own
		b = append([]byte{'\n'}, b...)
	}
	if _, err := fh.Write(b); err != nil {
		return fmt.Errorf("event log %s: %w", f.path, err)
	}
	f.ids.add(e.ID)
	return fh.Close()
}

// catchUp reads the IDs of the complete lines appended since f.read. torn
// reports a last line without its newline.
func (f *File) catchUp(fh *os.File) (torn bool, err error) {
	fi, err := fh.Stat()
	if err != nil {
		return false, err
	}
	size, start := fi.Size(), f.read
	midLine := false
	if !f.started || size < start { // first use, or the file was truncated
		f.started, f.ids = true, recent{}
		start = max(0, size-dedupTail)
		f.read = start
		if start > 0 {
			var prev [1]byte
			if _, err := fh.ReadAt(prev[:], start-1); err != nil {
				return false, err
			}
			midLine = prev[0] != '\n'
		}
	}
	br := bufio.NewReader(io.NewSectionReader(fh, start, size-start))
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			f.read = start // a torn line is read again once it has its newline
			return len(line) > 0, nil
		}
		if err != nil {
			return false, err
		}
		start += int64(len(line))
		if midLine { // the tail began inside this line
			midLine = false
			continue
		}
		var id struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(line, &id) == nil {
			f.ids.add(id.ID)
		}
	}
}

// recent is a set of the last dedupIDs IDs added.
type recent struct {
	set  map[string]struct{}
	ring []string
	next int
}

func (r *recent) has(id string) bool {
	_, ok := r.set[id]
	return ok
}

func (r *recent) add(id string) {
	if id == "" || r.has(id) {
		return
	}
	if r.set == nil {
		r.set = map[string]struct{}{}
	}
	if len(r.ring) < dedupIDs {
		r.ring = append(r.ring, id)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = id
		r.next = (r.next + 1) % dedupIDs
	}
	r.set[id] = struct{}{}
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
