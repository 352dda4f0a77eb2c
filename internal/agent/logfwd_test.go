package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/agent/agenttest"
	"github.com/belay-dev/belay/internal/target"
	"github.com/prometheus/client_golang/prometheus"
)

// receiver is a log endpoint: it keeps the lines of every batch it
// accepts, and refuses batches (503) while down.
type receiver struct {
	*httptest.Server
	down     atomic.Bool
	refused  atomic.Int64
	mu       sync.Mutex
	lines    []logLine
	bodies   []string
	problems []string
}

func newReceiver(t *testing.T, token string) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() {
			r.refused.Add(1)
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		var got []logLine
		var body strings.Builder
		sc := bufio.NewScanner(req.Body)
		for sc.Scan() {
			body.WriteString(sc.Text() + "\n")
			var l logLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			got = append(got, l)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if ct := req.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			r.problems = append(r.problems, "content type "+ct)
		}
		if a := req.Header.Get("Authorization"); token != "" && a != "Bearer "+token {
			r.problems = append(r.problems, "authorization "+a)
		}
		r.lines = append(r.lines, got...)
		r.bodies = append(r.bodies, body.String())
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() []logLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]logLine(nil), r.lines...)
}

// requestLines are the recorder's request lines received for version, as
// their paths in the order received.
func (r *receiver) requestLines(version string) []string {
	var out []string
	for _, l := range r.got() {
		if f := strings.Fields(l.Line); l.Version == version && len(f) == 3 && f[0] == "GET" {
			out = append(out, f[1])
		}
	}
	return out
}

// logAgent is an agent over dir running recorders (or hello), reading its
// log files often.
func logAgent(t *testing.T, dir string, opener Opener) *Agent {
	t.Helper()
	a, err := New(Config{StateDir: dir, Opener: opener, Log: slog.New(slog.DiscardHandler),
		LogForwardInterval: 20 * time.Millisecond, LogForwardMinBackoff: 10 * time.Millisecond, LogForwardMaxBackoff: 100 * time.Millisecond, LogBatchLines: 50})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(true) })
	return a
}

func selfOpener(t *testing.T) Opener {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(self, filepath.Join(dir, "recorder")); err != nil {
		t.Fatal(err)
	}
	return recorderOpener{dir}
}

// get sends paths /n/from … /n/to-1 through the proxy, each logged by the recorder.
func get(t *testing.T, url string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		resp, err := http.Get(fmt.Sprintf("%s/n/%04d", url, i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
}

// inOrder checks that paths holds /n/0000 … /n/(n-1) each at least once,
// first seen in order.
func inOrder(t *testing.T, paths []string, n int) (dups int) {
	t.Helper()
	seen := map[string]bool{}
	next := 0
	for _, p := range paths {
		if seen[p] {
			dups++
			continue
		}
		seen[p] = true
		if want := fmt.Sprintf("/n/%04d", next); p != want {
			t.Fatalf("line %s arrived where %s was due", p, want)
		}
		next++
	}
	if next != n {
		t.Fatalf("%d distinct lines arrived, want %d", next, n)
	}
	return dups
}

func metric(t *testing.T, a *Agent, name string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(&collector{a})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

// An instance of hello prints its start line; it arrives at the endpoint
// with the service's labels, as NDJSON with the bearer token.
// logsToken is a test endpoint's bearer token, not a secret.
const logsToken = "logs-test-token"

func TestLogForwardingShipsWithLabels(t *testing.T) {
	rcv := newReceiver(t, logsToken)
	a := logAgent(t, t.TempDir(), agenttest.HelloOpener{})
	d := desired(hello("v1", 100, 2))
	d.Logs = &target.LogForward{URL: rcv.URL + "/ingest", TokenSecret: "LOGS_TOKEN", Token: logsToken}
	apply(t, a, d)
	waitFor(t, "both instances' start lines", func() bool {
		n := map[int]bool{}
		for _, l := range rcv.got() {
			if strings.Contains(l.Line, "hello v1 listening on") && l.Environment == "test" && l.Service == "hello" && l.Version == "v1" && !l.Time.IsZero() {
				n[l.Instance] = true
			}
		}
		return n[0] && n[1]
	})
	rcv.mu.Lock()
	if len(rcv.problems) > 0 {
		t.Errorf("requests: %v", rcv.problems)
	}
	rcv.mu.Unlock()
	waitFor(t, "the forwarded counter", func() bool { return metric(t, a, "belay_agent_log_lines_forwarded_total") >= 2 })
	if metric(t, a, "belay_agent_log_lines_dropped_total") != 0 || metric(t, a, "belay_agent_log_forward_errors_total") != 0 {
		t.Error("the dropped and errors counters are not exposed at 0")
	}

	// A desired state without logs stops the forwarder.
	d.Logs = nil
	apply(t, a, d)
	if s, _ := a.lookup("test", "hello"); s.forwarder() != nil {
		t.Fatal("the forwarder still runs for a desired state without logs")
	}
}

// The endpoint down for a while, then up: every line arrives, in order
// per instance; the refusals are counted as errors.
func TestLogForwardingEndpointDownThenUp(t *testing.T) {
	rcv := newReceiver(t, "")
	rcv.down.Store(true)
	a := logAgent(t, t.TempDir(), selfOpener(t))
	d := desired(recorder("v1", 100))
	d.Logs = &target.LogForward{URL: rcv.URL}
	url := apply(t, a, d)
	get(t, url, 0, 120)
	waitFor(t, "refused batches", func() bool { return rcv.refused.Load() >= 3 })
	get(t, url, 120, 200)
	rcv.down.Store(false)
	waitFor(t, "all 200 lines", func() bool { return len(rcv.requestLines("v1")) >= 200 })
	if dups := inOrder(t, rcv.requestLines("v1"), 200); dups != 0 {
		t.Errorf("%d lines arrived twice; a refused batch is not accepted", dups)
	}
	if n := metric(t, a, "belay_agent_log_forward_errors_total"); n < 3 {
		t.Errorf("errors counted %v, endpoint refused %d", n, rcv.refused.Load())
	}
	if n := metric(t, a, "belay_agent_log_lines_dropped_total"); n != 0 {
		t.Errorf("dropped %v; nothing was rotated", n)
	}
}

// An agent restart (the instances adopted) resumes from the offsets: no
// line lost, and at most the batch in flight sent twice.
func TestLogForwardingResumesAfterRestart(t *testing.T) {
	rcv := newReceiver(t, "")
	dir := t.TempDir()
	opener := selfOpener(t)
	first := logAgent(t, dir, opener)
	d := desired(recorder("v1", 100))
	d.Logs = &target.LogForward{URL: rcv.URL}
	url := apply(t, first, d)
	get(t, url, 0, 100)
	waitFor(t, "the first 100 lines", func() bool { return len(rcv.requestLines("v1")) >= 100 })
	first.Close(false)

	second := logAgent(t, dir, opener)
	if err := second.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	o, err := second.Observe(context.Background(), "test", "hello")
	if err != nil || o.Versions[0].Restarts != 0 {
		t.Fatalf("observed %+v, %v; want the instance adopted", o, err)
	}
	get(t, "http://"+o.Listen, 100, 200)
	waitFor(t, "all 200 lines", func() bool { return len(rcv.requestLines("v1")) >= 200 })
	if dups := inOrder(t, rcv.requestLines("v1"), 200); dups > 50 {
		t.Errorf("%d lines sent twice; at most the batch in flight (50) may be", dups)
	}
}

// A secret value an instance prints arrives redacted.
func TestLogForwardingRedactsSecrets(t *testing.T) {
	const value = "s3cret-value-0042"
	rcv := newReceiver(t, "")
	a := logAgent(t, t.TempDir(), selfOpener(t))
	v := recorder("v1", 100, envEcho, "API_KEY")
	v.Run.Secrets = []string{"API_KEY"}
	v.Run.SecretEnv = map[string]string{"API_KEY": value}
	d := desired(v)
	d.Logs = &target.LogForward{URL: rcv.URL}
	apply(t, a, d)
	waitFor(t, "the echo line", func() bool {
		for _, l := range rcv.got() {
			if l.Line == "API_KEY is [redacted API_KEY]" {
				return true
			}
		}
		return false
	})
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, b := range rcv.bodies {
		if strings.Contains(b, value) {
			t.Fatalf("the secret left the host: %s", b)
		}
	}
}

func TestLogForwardingBadURL(t *testing.T) {
	a := logAgent(t, t.TempDir(), agenttest.HelloOpener{})
	for _, u := range []string{"ftp://logs.example/x", "logs.example/ingest", ""} {
		d := desired(hello("v1", 100, 1))
		d.Logs = &target.LogForward{URL: u}
		err := a.Apply(context.Background(), d)
		if !errors.Is(err, target.ErrInvalid) || !strings.Contains(err.Error(), "not an http:// or https:// URL") {
			t.Errorf("url %q: %v", u, err)
		}
	}
}

// Lines a rotation moves out of the live file before they were shipped
// are counted as dropped; the lines written after it are shipped.
func TestLogForwardingCountsRotatedLinesDropped(t *testing.T) {
	rcv := newReceiver(t, "")
	rcv.down.Store(true)
	a := logAgent(t, t.TempDir(), selfOpener(t))
	d := desired(recorder("v1", 100))
	d.Logs = &target.LogForward{URL: rcv.URL}
	url := apply(t, a, d)
	get(t, url, 0, 30)
	files, err := a.LogFiles("test", "hello", "v1")
	if err != nil || len(files) != 1 {
		t.Fatalf("log files %v, %v", files, err)
	}
	waitFor(t, "30 lines logged", func() bool { return len(logLines(t, files[0].Path, "GET ")) == 30 })
	lines := countLines(files[0].Path, 0) // the start lines too
	s, _ := a.lookup("test", "hello")
	if err := s.forwarder().rotate(files[0].Path, 1, 3); err != nil {
		t.Fatal(err)
	}
	if n := metric(t, a, "belay_agent_log_lines_dropped_total"); n != float64(lines) {
		t.Errorf("dropped %v, want the %d lines rotated unshipped", n, lines)
	}
	get(t, url, 30, 40)
	rcv.down.Store(false)
	waitFor(t, "the 10 lines after the rotation", func() bool { return len(rcv.requestLines("v1")) >= 10 })
	if got := rcv.requestLines("v1"); got[0] != "/n/0030" || len(got) != 10 {
		t.Errorf("after the rotation got %v", got)
	}
}

func logLines(t *testing.T, path, prefix string) []string {
	t.Helper()
	b, _ := os.ReadFile(path)
	var out []string
	for l := range strings.Lines(string(b)) {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// Forwarding disabled, the log rotated and grown again past the old
// offset, then enabled: every line since is shipped, none skipped by an
// offset of the file before the rotation.
func TestLogForwardingReenabledAfterRotation(t *testing.T) {
	rcv := newReceiver(t, "")
	a := logAgent(t, t.TempDir(), selfOpener(t))
	d := desired(recorder("v1", 100))
	d.Logs = &target.LogForward{URL: rcv.URL}
	url := apply(t, a, d)
	get(t, url, 0, 30)
	waitFor(t, "the first 30 lines", func() bool { return len(rcv.requestLines("v1")) >= 30 })
	d.Logs = nil
	apply(t, a, d)
	files, err := a.LogFiles("test", "hello", "v1")
	if err != nil || len(files) != 1 {
		t.Fatalf("log files %v, %v", files, err)
	}
	s, _ := a.lookup("test", "hello")
	if err := s.rotateLog(files[0].Path, 1, 3); err != nil {
		t.Fatal(err)
	}
	get(t, url, 30, 100)
	waitFor(t, "70 lines logged", func() bool { return len(logLines(t, files[0].Path, "GET ")) == 70 })
	d.Logs = &target.LogForward{URL: rcv.URL}
	apply(t, a, d)
	waitFor(t, "all 100 lines", func() bool { return len(rcv.requestLines("v1")) >= 100 })
	if dups := inOrder(t, rcv.requestLines("v1"), 100); dups != 0 {
		t.Errorf("%d lines arrived twice", dups)
	}
}

// A desired state that keeps the logs leaves the forwarder running, and
// the setting persisted for the next agent.
func TestLogForwardingKeptByKeepLogs(t *testing.T) {
	rcv := newReceiver(t, "")
	a := logAgent(t, t.TempDir(), agenttest.HelloOpener{})
	d := desired(hello("v1", 100, 1))
	d.Logs = &target.LogForward{URL: rcv.URL}
	apply(t, a, d)
	s, _ := a.lookup("test", "hello")
	f := s.forwarder()
	d.Logs, d.KeepLogs = nil, true
	apply(t, a, d)
	if s.forwarder() != f {
		t.Fatal("a desired state keeping the logs changed the forwarder")
	}
	s.mu.Lock()
	kept := s.desired.Logs
	s.mu.Unlock()
	if kept == nil || kept.URL != rcv.URL {
		t.Fatalf("the desired state kept %+v, want the forwarding in force", kept)
	}
}

// A busy instance with a backlog does not starve the others: the first
// batch accepted holds lines of both.
func TestLogForwardingSharesBatchesFairly(t *testing.T) {
	rcv := newReceiver(t, "")
	rcv.down.Store(true)
	dir := t.TempDir()
	a := logAgent(t, dir, selfOpener(t))
	busy := filepath.Join(dir, "logs", "test", "hello", "v0", "0.log") // sorted first
	if err := os.MkdirAll(filepath.Dir(busy), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(busy, []byte(strings.Repeat("chatty\n", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	d := desired(recorder("v1", 100))
	d.Logs = &target.LogForward{URL: rcv.URL}
	url := apply(t, a, d)
	get(t, url, 0, 10)
	files, err := a.LogFiles("test", "hello", "v1")
	if err != nil || len(files) != 1 {
		t.Fatalf("log files %v, %v", files, err)
	}
	waitFor(t, "10 lines logged", func() bool { return len(logLines(t, files[0].Path, "GET ")) == 10 })
	rcv.down.Store(false)
	waitFor(t, "all 10 lines", func() bool { return len(rcv.requestLines("v1")) >= 10 })
	rcv.mu.Lock()
	first := rcv.bodies[0]
	rcv.mu.Unlock()
	if !strings.Contains(first, `"version":"v0"`) || !strings.Contains(first, `"version":"v1"`) {
		t.Errorf("the first batch holds lines of one file only:\n%.300s", first)
	}
}

// The log of an instance no longer running is shipped to its end, a last
// line without a newline too; once the file is gone its cursor goes.
func TestLogForwardingFinishesAndForgetsStoppedLogs(t *testing.T) {
	rcv := newReceiver(t, "")
	dir := t.TempDir()
	a := logAgent(t, dir, agenttest.HelloOpener{})
	old := filepath.Join(dir, "logs", "test", "hello", "v0", "0.log")
	if err := os.MkdirAll(filepath.Dir(old), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, []byte("first\nlast words"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := desired(hello("v1", 100, 1))
	d.Logs = &target.LogForward{URL: rcv.URL}
	apply(t, a, d)
	waitFor(t, "the stopped instance's last line", func() bool {
		for _, l := range rcv.got() {
			if l.Version == "v0" && l.Line == "last words" {
				return true
			}
		}
		return false
	})
	if err := os.RemoveAll(filepath.Dir(old)); err != nil {
		t.Fatal(err)
	}
	s, _ := a.lookup("test", "hello")
	f := s.forwarder()
	waitFor(t, "the removed file's cursor gone", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.curs["v0/0.log"] == nil
	})
	waitFor(t, "the offsets without it", func() bool {
		b, err := os.ReadFile(f.offsetsPath())
		return err == nil && !strings.Contains(string(b), "v0/")
	})
}

// A redirect is refused, so the token does not follow it, and errors show
// the endpoint without its user, password or query.
func TestLogForwardingKeepsCredentialsIn(t *testing.T) {
	var leaked atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
	}))
	t.Cleanup(other.Close)
	redirect := httptest.NewServer(http.RedirectHandler(other.URL+"/elsewhere", http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	a := logAgent(t, t.TempDir(), agenttest.HelloOpener{})
	d := desired(hello("v1", 100, 1))
	d.Logs = &target.LogForward{URL: redirect.URL + "/ingest", Token: logsToken}
	apply(t, a, d)
	waitFor(t, "a refused batch", func() bool { return metric(t, a, "belay_agent_log_forward_errors_total") >= 1 })
	if leaked.Load() != 0 {
		t.Fatal("the token followed a redirect")
	}

	s, _ := a.lookup("test", "hello")
	for _, u := range []string{"http://user:pa55word@127.0.0.1:1/x?key=s3cret", redirect.URL + "/x?key=s3cret"} {
		f := &forwarder{s: s, cfg: target.LogForward{URL: u}, client: s.forwarder().client}
		err := f.post(context.Background(), batch{lines: []logLine{{Line: "x"}}})
		if err == nil || strings.Contains(err.Error(), "pa55word") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("post to %s: %v", u, err)
		}
	}
	err := a.Apply(context.Background(), func() target.Desired {
		d.Logs = &target.LogForward{URL: "ftp://user:pa55word@logs.example/x?key=s3cret"}
		return d
	}())
	if err == nil || strings.Contains(err.Error(), "pa55word") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("apply: %v", err)
	}
}
