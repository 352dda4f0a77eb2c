package event

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestFileConcurrentAppend(t *testing.T) {
	f := NewFile(filepath.Join(t.TempDir(), "sub", "events.jsonl"))
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.Emit(context.Background(), Event{Event: DeploymentStarted, Service: "api"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := ReadFile(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 50 || got[0].Service != "api" || got[0].Time.IsZero() {
		t.Fatalf("got %d events, first %+v", len(got), got[0])
	}
}

func emit(t *testing.T, f *File, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := f.Emit(context.Background(), Event{ID: id, Event: PhaseChanged}); err != nil {
			t.Fatal(err)
		}
	}
}

func idsIn(t *testing.T, path string) []string {
	t.Helper()
	evs, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

func TestFileWritesEachIDOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	f := NewFile(path)
	emit(t, f, "a", "b", "a", "", "")
	// A restart: a new File on the same file, and an event re-sent.
	emit(t, NewFile(path), "b", "c", "a")
	if got, want := idsIn(t, path), []string{"a", "b", "", "", "c"}; !slices.Equal(got, want) {
		t.Fatalf("ids %q, want %q", got, want)
	}
}

func TestFileConcurrentSameID(t *testing.T) {
	f := NewFile(filepath.Join(t.TempDir(), "events.jsonl"))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { emit(t, f, "once") })
	}
	wg.Wait()
	if got := idsIn(t, f.Path()); len(got) != 1 {
		t.Fatalf("ids %q", got)
	}
}

// Another process appending to the file (belay build beside the server):
// its IDs count too.
func TestFileSeesOtherWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	server, build := NewFile(path), NewFile(path)
	emit(t, server, "s1")
	emit(t, build, "b1")
	emit(t, server, "b1", "s2")
	emit(t, build, "s2", "s1")
	if got, want := idsIn(t, path), []string{"s1", "b1", "s2"}; !slices.Equal(got, want) {
		t.Fatalf("ids %q, want %q", got, want)
	}
}

// A writer that died mid-line leaves a torn line: the next event still
// gets a line of its own, and the torn event (never whole) is written again.
func TestFileAfterTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	emit(t, NewFile(path), "a")
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteString(`{"id":"b","event":"phase_ch`)
	fh.Close()
	f := NewFile(path)
	emit(t, f, "b", "a", "b")
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[2], `{"id":"b","event":"phase_changed"`) {
		t.Fatalf("file:\n%s", b)
	}
}

// Only the tail of a large file is read for IDs: an event older than that
// is written again (and dropped by readers), a recent one is not.
func TestFileReadsATail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	old, _ := json.Marshal(Event{ID: "old", Event: PhaseChanged, Reason: strings.Repeat("x", dedupTail)})
	if err := os.WriteFile(path, append(old, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	emit(t, NewFile(path), "new")
	emit(t, NewFile(path), "new", "old")
	if got, want := idsIn(t, path), []string{"old", "new", "old"}; !slices.Equal(got, want) {
		t.Fatalf("ids %q, want %q", got, want)
	}
}

func TestRecentForgetsOldest(t *testing.T) {
	var r recent
	for i := range dedupIDs + 1 {
		r.add(fmt.Sprint(i))
	}
	if r.has("0") || !r.has("1") || !r.has(fmt.Sprint(dedupIDs)) || len(r.set) != dedupIDs {
		t.Fatalf("has 0: %v, 1: %v, last: %v; %d remembered", r.has("0"), r.has("1"), r.has(fmt.Sprint(dedupIDs)), len(r.set))
	}
}
