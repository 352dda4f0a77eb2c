package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/belay-dev/belay/internal/atomicfile"
	"github.com/belay-dev/belay/internal/target"
)

// Log forwarding (target.Desired.Logs): one forwarder per service tails the
// log files of every version and instance of it under STATE/logs/ENV/SVC,
// from offsets kept in STATE/logfwd/ENV/SVC.json, and POSTs the lines,
// redacted, as newline-delimited JSON. An offset moves only once its
// lines were accepted, so delivery is at least once: a batch in flight
// when the agent stops is sent again by the next one. While the endpoint
// is down the forwarder lags (the files hold the lines); the lines a log
// rotation moves out of the live file before they were shipped are
// counted as dropped.

// logStats are a service's forwarding counters, kept across forwarders.
type logStats struct{ forwarded, dropped, errors atomic.Int64 }

// logLine is what the endpoint receives, one JSON object per line.
type logLine struct {
	Time        time.Time `json:"time"` // when the forwarder read it
	Environment string    `json:"environment"`
	Service     string    `json:"service"`
	Version     string    `json:"version"`
	Instance    int       `json:"instance"`
	Line        string    `json:"line"`
}

// cursor is how far one log file was shipped.
type cursor struct {
	offset   int64 // accepted up to here
	gen      int   // bumped by each rotation
	inflight int64 // end of the batch being sent, 0 when none
	done     bool  // shipped to its end, its instance stopped: not read again
}

type forwarder struct {
	s      *service
	cfg    target.LogForward
	client *http.Client
	stop   context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex         // guards curs and the offsets file
	curs   map[string]*cursor // by path under the service's log directory
}

// batch is lines read from the files, with where each file's part ends.
type batch struct {
	lines []logLine
	ends  map[string]batchEnd
}

type batchEnd struct {
	end   int64
	gen   int
	lines int
}

// syncLogs runs the forwarder lf asks for, if any, and stops one it no
// longer asks for (or asks for differently). Without lf the offsets are
// dropped: while nothing forwards, nothing keeps them true to the files,
// so forwarding enabled again ships each file from its start (at least
// once). The caller holds applyMu.
func (s *service) syncLogs(lf *target.LogForward) {
	s.logsMu.Lock()
	defer s.logsMu.Unlock()
	s.syncLogsLocked(lf)
}

func (s *service) syncLogsLocked(lf *target.LogForward) {
	if f := s.logs; f != nil {
		if lf != nil && *lf == f.cfg {
			return
		}
		s.stopLogsLocked()
	}
	if lf == nil {
		if err := os.Remove(s.offsetsPath()); err != nil && !os.IsNotExist(err) {
			s.a.log.Warn("drop log forwarding offsets", "path", s.offsetsPath(), "err", err)
		}
		return
	}
	s.mu.Lock()
	if s.logStats == nil {
		s.logStats = &logStats{}
	}
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(s.a.ctx)
	f := &forwarder{s: s, cfg: *lf, client: &http.Client{Timeout: 10 * time.Second, CheckRedirect: refuseRedirect}, stop: cancel, done: make(chan struct{}), curs: map[string]*cursor{}}
	f.load()
	go f.run(ctx)
	s.mu.Lock()
	s.logs = f
	s.mu.Unlock()
}

// stopLogs stops the forwarder and keeps its offsets, for an agent that
// stops. The caller holds applyMu.
func (s *service) stopLogs() {
	s.logsMu.Lock()
	defer s.logsMu.Unlock()
	s.stopLogsLocked()
}

func (s *service) stopLogsLocked() {
	f := s.logs
	if f == nil {
		return
	}
	f.stop()
	<-f.done
	s.mu.Lock()
	s.logs = nil
	s.mu.Unlock()
}

// rotateLog rotates one of the service's log files, through the forwarder
// when one runs (it counts what it had not shipped).
func (s *service) rotateLog(path string, max int64, keep int) error {
	s.logsMu.Lock()
	defer s.logsMu.Unlock()
	if f := s.forwarder(); f != nil {
		return f.rotate(path, max, keep)
	}
	return rotate(path, max, keep)
}

// forwarder is the service's running forwarder, or nil.
func (s *service) forwarder() *forwarder {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs
}

func (f *forwarder) dir() string {
	return f.s.a.dir("logs", f.s.key.env, f.s.key.service)
}

func (f *forwarder) offsetsPath() string { return f.s.offsetsPath() }

func (s *service) offsetsPath() string {
	return s.a.dir("logfwd", s.key.env, s.key.service+".json")
}

// load reads the offsets a previous forwarder (or agent) kept.
func (f *forwarder) load() {
	b, err := os.ReadFile(f.offsetsPath())
	if err != nil {
		return
	}
	var offs map[string]int64
	if err := json.Unmarshal(b, &offs); err != nil {
		f.s.a.log.Warn("log forwarding offsets damaged; shipping the logs from their start", "path", f.offsetsPath(), "err", err)
		return
	}
	for p, o := range offs {
		f.curs[p] = &cursor{offset: o}
	}
}

// saveLocked writes the offsets; the caller holds f.mu.
func (f *forwarder) saveLocked() {
	offs := map[string]int64{}
	for p, c := range f.curs {
		offs[p] = c.offset
	}
	b, _ := json.Marshal(offs)
	if err := os.MkdirAll(filepath.Dir(f.offsetsPath()), 0o755); err == nil {
		err = atomicfile.Write(f.offsetsPath(), b, 0o600)
		if err != nil {
			f.s.a.log.Warn("save log forwarding offsets", "err", err)
		}
	}
}

func (f *forwarder) run(ctx context.Context) {
	defer close(f.done)
	cfg := f.s.a.cfg
	backoff := cfg.LogForwardMinBackoff
	for {
		b := f.collect()
		if len(b.lines) == 0 {
			if !sleepCtx(ctx, cfg.LogForwardInterval) {
				return
			}
			continue
		}
		if err := f.post(ctx, b); err != nil {
			f.abort(b)
			if ctx.Err() != nil {
				return
			}
			f.s.logStats.errors.Add(1)
			f.s.a.log.Warn("log forwarding: endpoint refused a batch; lagging and trying again", "service", f.s.key.service, "env", f.s.key.env,
				"lines", len(b.lines), "retry_in", backoff, "err", f.s.a.redact.Error(err))
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, cfg.LogForwardMaxBackoff)
			continue
		}
		backoff = cfg.LogForwardMinBackoff
		f.commit(b)
		if len(b.lines) < cfg.LogBatchLines && !sleepCtx(ctx, cfg.LogForwardInterval) {
			return
		}
	}
}

// collect reads up to a batch of complete lines past the offsets and marks
// them in flight. Each file gets a fair share of the batch first, and the
// files with more the rest, so that a busy instance cannot starve the
// others (whose lines would then be rotated away unshipped).
func (f *forwarder) collect() batch {
	paths, _ := filepath.Glob(filepath.Join(f.dir(), "*", "*.log"))
	sort.Strings(paths)
	b := batch{ends: map[string]batchEnd{}}
	limit := f.s.a.cfg.LogBatchLines
	share := max(1, limit/max(1, len(paths)))
	live := f.s.liveLogs()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pruneLocked(paths)
	var more []string // files that filled their share
	for _, p := range paths {
		if len(b.lines) < limit && f.readInto(&b, p, min(share, limit-len(b.lines)), live[p]) == share {
			more = append(more, p)
		}
	}
	for _, p := range more {
		if len(b.lines) < limit {
			f.readInto(&b, p, limit-len(b.lines), live[p])
		}
	}
	return b
}

// pruneLocked forgets the cursors of files gone (e.g. a removed
// version's); the caller holds f.mu.
func (f *forwarder) pruneLocked(paths []string) {
	exists := map[string]bool{}
	for _, p := range paths {
		rel, _ := filepath.Rel(f.dir(), p)
		exists[rel] = true
	}
	pruned := false
	for rel, c := range f.curs {
		if !exists[rel] && c.inflight == 0 {
			delete(f.curs, rel)
			pruned = true
		}
	}
	if pruned {
		f.saveLocked()
	}
}

// readInto adds up to n lines of path to b, from where b or the cursor
// ends; the file of a stopped instance (not live) is read to its end, a
// last line without a newline too, and then no more. The caller holds f.mu.
func (f *forwarder) readInto(b *batch, p string, n int, live bool) int {
	rel, _ := filepath.Rel(f.dir(), p)
	c := f.curs[rel]
	if c == nil {
		c = &cursor{}
		f.curs[rel] = c
	}
	if live {
		c.done = false // a version run again
	} else if c.done {
		return 0
	}
	from := c.offset
	e, ok := b.ends[rel]
	if ok {
		from = e.end
	}
	lines, end := readLines(p, from, n, !live)
	if end < from && !ok { // truncated by someone else: start over
		c.offset = 0
		lines, end = readLines(p, 0, n, !live)
	}
	if len(lines) == 0 {
		c.done = !live && c.inflight == 0
		return 0
	}
	version := filepath.Base(filepath.Dir(p))
	inst, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(p), ".log"))
	now := f.s.a.cfg.Now().UTC()
	for _, l := range lines {
		b.lines = append(b.lines, logLine{Time: now, Environment: f.s.key.env, Service: f.s.key.service,
			Version: version, Instance: inst, Line: f.s.a.redact.String(l)})
	}
	c.inflight = end
	b.ends[rel] = batchEnd{end: end, gen: c.gen, lines: e.lines + len(lines)}
	return len(lines)
}

// maxLine is the longest line shipped as one; longer ones are cut.
const maxLine = 64 << 10

// readLines reads up to n complete lines of path from offset, and with
// final the last line without a newline too; end is the offset after the
// last one returned (the file's size when it is shorter than offset, so
// that the caller sees the truncation).
func readLines(path string, offset int64, n int, final bool) (lines []string, end int64) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, offset
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, offset
	}
	if fi.Size() < offset {
		return nil, fi.Size()
	}
	buf := make([]byte, min(fi.Size()-offset, int64(n)*256+maxLine))
	k, _ := io.ReadFull(io.NewSectionReader(fh, offset, int64(len(buf))), buf)
	buf = buf[:k]
	final = final && int64(k) == fi.Size()-offset // the tail is the file's end
	end = offset
	for len(lines) < n && len(buf) > 0 {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			if len(buf) < maxLine && !final {
				break // the rest of the line is not written yet
			}
			i = min(len(buf), maxLine) - 1
			lines = append(lines, string(buf[:i+1]))
		} else {
			lines = append(lines, string(buf[:i]))
		}
		buf, end = buf[i+1:], end+int64(i+1)
	}
	return lines, end
}

func (f *forwarder) post(ctx context.Context, b batch) error {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, l := range b.lines {
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.cfg.URL, &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if f.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+f.cfg.Token)
	}
	resp, err := f.client.Do(req)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		ue.URL = endpoint(f.cfg.URL)
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", endpoint(f.cfg.URL), resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// refuseRedirect keeps the token from following a redirect (Go would
// send it on to the same host, over plain http too): the 3xx is the
// answer, refused as any other but 2xx.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// endpoint is raw as errors and logs show it: without a user, password or
// query, which may hold a credential.
func endpoint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment = nil, "", false, ""
	return u.String()
}

// commit moves the offsets past a batch the endpoint accepted, except in
// files rotated meanwhile (their offsets start over in the new file).
func (f *forwarder) commit(b batch) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for rel, e := range b.ends {
		c := f.curs[rel]
		if c.gen == e.gen {
			c.offset = e.end
		}
		c.inflight = 0
	}
	f.s.logStats.forwarded.Add(int64(len(b.lines)))
	f.saveLocked()
}

// abort forgets a batch that was not accepted: it is read again, except
// the part of a file rotated meanwhile, which is dropped.
func (f *forwarder) abort(b batch) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for rel, e := range b.ends {
		c := f.curs[rel]
		if c.gen != e.gen {
			f.s.logStats.dropped.Add(int64(e.lines))
		}
		c.inflight = 0
	}
}

// rotate rotates one of the service's log files; the lines not shipped
// yet (nor in flight) are counted as dropped, and the offset starts over.
func (f *forwarder) rotate(path string, max int64, keep int) error {
	fi, err := os.Stat(path)
	if err != nil || fi.Size() <= max {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rel, _ := filepath.Rel(f.dir(), path)
	c := f.curs[rel]
	if c == nil {
		c = &cursor{}
		f.curs[rel] = c
	}
	from := c.offset
	if c.inflight > from {
		from = c.inflight
	}
	f.s.logStats.dropped.Add(countLines(path, from))
	c.offset, c.inflight = 0, 0
	c.gen++
	f.saveLocked() // before the truncation: a crash between them sends lines twice, not never
	return rotate(path, max, keep)
}

// countLines counts the complete lines of path from offset.
func countLines(path string, offset int64) int64 {
	fh, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer fh.Close()
	if _, err := fh.Seek(offset, io.SeekStart); err != nil {
		return 0
	}
	var n int64
	buf := make([]byte, 64<<10)
	for {
		k, err := fh.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err != nil {
			return n
		}
	}
}
