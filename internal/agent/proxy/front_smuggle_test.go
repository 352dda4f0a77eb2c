package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// smuggleCase is a byte stream a client sends the proxy on one connection,
// and what must come of it.
type smuggleCase struct {
	name    string
	send    string
	backend []string // the requests the instance reads, in order (see entry)
	status  []int    // the answers the client reads, in order, 1xx left out
	closed  bool     // the proxy then closes the connection
}

// A host the cases use; entry names any other.
const smuggleHost = "h.test"

func smuggleCases() []smuggleCase {
	get := func(target string, extra ...string) string {
		return "GET " + target + " HTTP/1.1\r\nHost: " + smuggleHost + "\r\n" + strings.Join(extra, "") + "\r\n"
	}
	smuggled := get("/smuggled")
	longTarget := "/" + strings.Repeat("a", 20<<10)
	var many strings.Builder
	for i := range 600 {
		many.WriteString("X-Many-" + strconv.Itoa(i) + ": 0123456789012345678901234567890\r\n")
	}
	huge := "X-Huge: " + strings.Repeat("b", 1100<<10) + "\r\n"
	return []smuggleCase{
		// What the front serves itself.
		{name: "get", send: get("/"), backend: []string{"GET /"}, status: []int{200}},
		{name: "head", send: "HEAD /x HTTP/1.1\r\nHost: h.test\r\n\r\n", backend: []string{"HEAD /x"}, status: []int{200}},
		{name: "pipelined", send: get("/a") + get("/b?q=1") + "HEAD /c HTTP/1.1\r\nHost: h.test\r\n\r\n",
			backend: []string{"GET /a", "GET /b?q=1", "HEAD /c"}, status: []int{200, 200, 200}},
		{name: "connection close ends the stream", send: get("/a", "Connection: close\r\n") + get("/b"),
			backend: []string{"GET /a"}, status: []int{200}, closed: true},
		{name: "front then net/http", send: get("/a") + "POST /b HTTP/1.1\r\nHost: h.test\r\nContent-Length: 5\r\n\r\nhello",
			backend: []string{"GET /a", "POST /b body=hello"}, status: []int{200, 200}},

		// Framing: Content-Length and Transfer-Encoding. net/http would read
		// Transfer-Encoding over Content-Length (RFC 9112 6.3) and keep the
		// connection; the front refuses the pair and closes, as the RFC asks.
		{name: "CL+TE", send: "POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			status: []int{400}, closed: true},
		{name: "TE+CL", send: "POST / HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\nContent-Length: " + strconv.Itoa(5+len(smuggled)) + "\r\n\r\n0\r\n\r\n" + smuggled,
			status: []int{400}, closed: true},
		{name: "GET with TE+CL", send: get("/", "Transfer-Encoding: chunked\r\n", "Content-Length: "+strconv.Itoa(5+len(smuggled))+"\r\n") + "0\r\n\r\n" + smuggled,
			status: []int{400}, closed: true},
		{name: "cl+te in lower case", send: "POST / HTTP/1.1\r\nHost: h.test\r\ncontent-length: 6\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			status: []int{400}, closed: true},
		{name: "duplicate CL equal", send: "POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
			backend: []string{"POST / body=hello"}, status: []int{200}},
		{name: "duplicate CL different", send: "POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
			status: []int{400}, closed: true},
		{name: "CL list", send: "POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 5, 5\r\n\r\nhello", status: []int{400}, closed: true},
		{name: "CL plus sign", send: "POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: +5\r\n\r\nhello", status: []int{400}, closed: true},
		{name: "CL minus sign", send: "POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: -5\r\n\r\nhello", status: []int{400}, closed: true},
		{name: "CL hex", send: "POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 0x5\r\n\r\nhello", status: []int{400}, closed: true},
		{name: "CL inner space", send: "POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 5 5\r\n\r\nhello", status: []int{400}, closed: true},
		{name: "CL 0 on GET then a request", send: get("/", "Content-Length: 0\r\n") + get("/b"),
			backend: []string{"GET /", "GET /b"}, status: []int{200, 200}},
		{name: "CL shorter than the bytes", send: "POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 3\r\n\r\nabc" + get("/b"),
			backend: []string{"POST / body=abc", "GET /b"}, status: []int{200, 200}},
		{name: "GET with a request in its CL body", send: get("/", "Content-Length: "+strconv.Itoa(len(smuggled))+"\r\n") + smuggled,
			backend: []string{"GET / body=" + smuggled}, status: []int{200}},
		{name: "GET with a request in its chunked body", send: get("/", "Transfer-Encoding: chunked\r\n") + strconv.FormatInt(int64(len(smuggled)), 16) + "\r\n" + smuggled + "\r\n0\r\n\r\n",
			backend: []string{"GET / body=" + smuggled}, status: []int{200}},
		{name: "TE obs-fold", send: "POST / HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled,
			status: []int{400}, closed: true}, // framed twice, folded or not
		{name: "TE xchunked", send: "POST / HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", status: []int{501}, closed: true},
		{name: "TE chunked, identity", send: "POST / HTTP/1.1\r\nHost: h.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", status: []int{501}, closed: true},
		{name: "TE in HTTP/1.0", send: "POST / HTTP/1.0\r\nHost: h.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello",
			status: []int{400}, closed: true},
		{name: "Connection: Content-Length", send: get("/", "Content-Length: 5\r\n", "Connection: Content-Length\r\n") + "hello" + get("/b"),
			backend: []string{"GET / body=hello", "GET /b"}, status: []int{200, 200}},
		{name: "Connection: Transfer-Encoding", send: get("/", "Transfer-Encoding: chunked\r\n", "Connection: Transfer-Encoding\r\n") + "5\r\nhello\r\n0\r\n\r\n" + get("/b"),
			backend: []string{"GET / body=hello", "GET /b"}, status: []int{200, 200}},
		{name: "Expect 100-continue", send: "POST / HTTP/1.1\r\nHost: h.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
			backend: []string{"POST / body=hello"}, status: []int{200}},

		// Line endings and bytes in the head.
		{name: "obs-fold", send: get("/", "X-A: a\r\n b\r\n"), backend: []string{"GET /"}, status: []int{200}},
		{name: "bare LF", send: "GET / HTTP/1.1\nHost: h.test\n\n", backend: []string{"GET /"}, status: []int{200}},
		{name: "bare LF ends the head early", send: "GET /a HTTP/1.1\r\nHost: h.test\r\nX-A: 1\n\n" + get("/b"), backend: []string{"GET /a", "GET /b"}, status: []int{200, 200}},
		{name: "bare CR", send: get("/", "X-A: 1\rGET /b HTTP/1.1\r\n"), status: []int{400}, closed: true},
		{name: "NUL in a header", send: get("/", "X-A: a\x00b\r\n"), status: []int{400}, closed: true},
		{name: "space before colon", send: get("/", "X-A : b\r\n"), status: []int{400}, closed: true},
		{name: "space before the first header", send: "GET / HTTP/1.1\r\n Host: h.test\r\n\r\n", status: []int{400}, closed: true},
		{name: "duplicate X-Forwarded-For", send: get("/", "X-Forwarded-For: 10.0.0.1\r\n", "X-Forwarded-For: 10.0.0.2\r\n"), backend: []string{"GET /"}, status: []int{200}},

		// Host and target.
		{name: "duplicate Host", send: get("/", "Host: other.test\r\n"), status: []int{400}, closed: true},
		{name: "no Host", send: "GET / HTTP/1.1\r\n\r\n", status: []int{400}, closed: true},
		{name: "Host with a slash", send: "GET / HTTP/1.1\r\nHost: h.test/x\r\n\r\n", status: []int{400}, closed: true},
		{name: "bad escape in the path", send: get("/%zz"), status: []int{400}, closed: true},
		{name: "absolute-form, other Host", send: "GET http://other.test/x HTTP/1.1\r\nHost: h.test\r\n\r\n",
			backend: []string{"GET /x host=other.test"}, status: []int{200}},
		// net/http reads scheme "h.test", opaque "80"; the instance reads the same.
		{name: "authority-form GET", send: get("h.test:80"), backend: []string{"GET 80"}, status: []int{200}},
		{name: "authority-form GET, no host", send: get(":80"), status: []int{400}, closed: true},
		{name: "asterisk-form GET", send: get("*"), backend: []string{"GET *"}, status: []int{200}},
		{name: "asterisk-form OPTIONS", send: "OPTIONS * HTTP/1.1\r\nHost: h.test\r\n\r\n", status: []int{200}},

		// Sizes.
		{name: "20 KiB request line", send: get(longTarget), backend: []string{"GET " + longTarget}, status: []int{200}},
		{name: "600 headers", send: get("/", many.String()), backend: []string{"GET /"}, status: []int{200}},
		{name: "head over 1 MiB", send: get("/", huge), status: []int{431}, closed: true},

		// Request line.
		// Longer than HTTP/2's preface, which net/http waits for in full.
		{name: "HTTP/0.9", send: "GET /" + strings.Repeat("a", 30) + "\r\n\r\n", status: []int{400}, closed: true},
		{name: "HTTP/2.0", send: "GET / HTTP/2.0\r\nHost: h.test\r\n\r\n", status: []int{505}, closed: true},
		{name: "HTTP/1.2", send: "GET / HTTP/1.2\r\nHost: h.test\r\n\r\n", backend: []string{"GET /"}, status: []int{200}},
		{name: "lowercase method", send: "get / HTTP/1.1\r\nHost: h.test\r\n\r\n", backend: []string{"get /"}, status: []int{200}},
		{name: "control byte in the method", send: "G\x01T / HTTP/1.1\r\nHost: h.test\r\n\r\n", status: []int{400}, closed: true},
		{name: "tab for a space", send: "GET\t/ HTTP/1.1\r\nHost: h.test\r\n\r\n", status: []int{400}, closed: true},
		{name: "two spaces", send: "GET  / HTTP/1.1\r\nHost: h.test\r\n\r\n", status: []int{400}, closed: true},

		// Upgrades.
		{name: "Upgrade websocket", send: get("/ws", "Connection: Upgrade\r\n", "Upgrade: websocket\r\n", "Sec-WebSocket-Version: 13\r\n", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
			backend: []string{"GET /ws"}, status: []int{200}},
		{name: "Upgrade h2c", send: get("/", "Connection: Upgrade, HTTP2-Settings\r\n", "Upgrade: h2c\r\n", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"),
			backend: []string{"GET /"}, status: []int{200}},
	}
}

// TestFrontSmuggling sends each case through a real proxy to a real
// instance that records what it reads. The instance must read exactly the
// expected requests, each one the client sent as net/http reads the
// client's bytes: none smuggled in a body or a header.
func TestFrontSmuggling(t *testing.T) {
	for _, tc := range smuggleCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder(t)
			p := New(slog.New(slog.DiscardHandler))
			s := &Stats{}
			p.Swap(NewTable([]*Route{{Version: "v1", Weight: 100, Stats: s, Backends: []*Backend{p.NewBackend("v1", rec.addr(), s)}}}, Sticky{}, ""))
			addr := strings.TrimPrefix(serve(t, p), "http://")

			sent, refused := netHTTPRequests([]byte(tc.send))
			status, closed := exchangeRaw(t, addr, tc.send, methods(sent), len(tc.status))
			seen, raw := rec.requests()
			if !slices.Equal(seen, tc.backend) {
				t.Errorf("instance read %q, want %q; raw:\n%q", seen, tc.backend, raw)
			}
			if !subsequence(seen, sent) {
				t.Errorf("instance read %q, not all of them among the client's requests as net/http reads them: %q", seen, sent)
			}
			if !slices.Equal(status, tc.status) || closed != tc.closed {
				t.Errorf("client read %v closed=%v, want %v closed=%v", status, closed, tc.status, tc.closed)
			}
			if refused && !closed {
				t.Errorf("net/http refuses the bytes after %q, but the connection stays open", sent)
			}
		})
	}
}

// recorder is an instance that reads requests as net/http does, records
// each (see entry) with the raw bytes of its connections, and answers 200.
type recorder struct {
	ln   net.Listener
	mu   sync.Mutex
	seen []string
	raw  []*lockedBuffer
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(c)
		}
	}()
	return r
}

func (r *recorder) addr() string { return r.ln.Addr().String() }

func (r *recorder) serve(c net.Conn) {
	defer c.Close()
	raw := &lockedBuffer{}
	r.mu.Lock()
	r.raw = append(r.raw, raw)
	r.mu.Unlock()
	br := bufio.NewReader(io.TeeReader(c, raw))
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				r.add("error: " + err.Error())
			}
			return
		}
		if req.Header.Get("Expect") == "100-continue" {
			_, _ = io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			r.add("error: " + err.Error())
			return
		}
		r.add(entry(req, body))
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
	}
}

// lockedBuffer lets the test read a connection's raw bytes while they come.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	r.seen = append(r.seen, e)
	r.mu.Unlock()
}

// requests returns the entries read so far and the raw bytes behind them.
func (r *recorder) requests() ([]string, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var raw strings.Builder
	for _, b := range r.raw {
		b.mu.Lock()
		raw.WriteString(b.b.String())
		b.mu.Unlock()
		raw.WriteString("\n--\n")
	}
	return slices.Clone(r.seen), raw.String()
}

// entry is a request as the cases write it: method, target, the Host when
// not the cases' own, the body when there is one.
func entry(r *http.Request, body []byte) string {
	e := r.Method + " " + r.URL.RequestURI()
	if r.Host != smuggleHost {
		e += " host=" + r.Host
	}
	if len(body) > 0 {
		e += " body=" + string(body)
	}
	return e
}

// netHTTPRequests reads data as net/http's server does, request after
// request, as entries; refused reports that it then answers an error.
func netHTTPRequests(data []byte) (reqs []string, refused bool) {
	for len(data) > 0 {
		req, body, rest, err := netHTTPRead(data)
		if err != nil {
			return reqs, true
		}
		reqs = append(reqs, entry(req, body))
		if req.Close {
			break
		}
		data = rest
	}
	return reqs, false
}

func methods(entries []string) []string {
	var m []string
	for _, e := range entries {
		m = append(m, strings.ToUpper(strings.Fields(e)[0]))
	}
	return m
}

// subsequence reports whether every entry of a is in b, in order.
func subsequence(a, b []string) bool {
	for _, e := range a {
		i := slices.Index(b, e)
		if i < 0 {
			return false
		}
		b = b[i+1:]
	}
	return true
}

// exchangeRaw sends data on one connection and reads the answers (methods
// tell a HEAD's bodiless answer): want of them, then whatever else comes
// in a short while. closed reports whether the proxy closed the connection.
func exchangeRaw(t *testing.T, addr, data string, methods []string, want int) (status []int, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() { _, _ = io.WriteString(c, data) }() // the proxy may stop reading early
	br := bufio.NewReader(c)
	for {
		wait := 5 * time.Second
		if len(status) >= want {
			wait = 150 * time.Millisecond // ample for a smuggled request's answer on loopback
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		req := &http.Request{Method: "GET"}
		if len(status) < len(methods) {
			req.Method = methods[len(status)]
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			var ne net.Error
			return status, !(errors.As(err, &ne) && ne.Timeout())
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 200 {
			status = append(status, resp.StatusCode)
		}
		if err != nil {
			return status, true
		}
	}
}

// TestFrontCorpus keeps the fuzz seeds in step with the smuggling table:
// each case is a seed, written by go test -run TestFrontCorpus -update.
func TestFrontCorpus(t *testing.T) {
	for _, tc := range smuggleCases() {
		if len(tc.send) > maxHead*2 {
			continue // too big to be a useful seed
		}
		name := filepath.Join("testdata", "fuzz", "FuzzFront", "smuggle-"+strings.NewReplacer(" ", "-", "/", "", ",", "", "+", "-", ":", "").Replace(strings.ToLower(tc.name)))
		want := "go test fuzz v1\n[]byte(" + strconv.Quote(tc.send) + ")\n"
		if *update {
			if err := os.WriteFile(name, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(name); err != nil || string(got) != want {
			t.Errorf("%s: not the case %q as a seed (go test -run TestFrontCorpus -update): %v", name, tc.name, err)
		}
	}
}
