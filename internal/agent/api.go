package agent

import (
	"bufio"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/belay-dev/belay/internal/secret"
	"github.com/belay-dev/belay/internal/target"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// APIError is the JSON body of a failed API call; Kind names the target
// error it stands for, so that clients can rebuild it.
type APIError struct {
	Error string `json:"error"`
	Kind  string `json:"kind,omitempty"` // not_found, artifact, unhealthy, invalid
}

var kinds = []struct {
	err    error
	kind   string
	status int
}{
	{target.ErrNotFound, "not_found", http.StatusNotFound},
	{target.ErrArtifact, "artifact", http.StatusUnprocessableEntity},
	{target.ErrUnhealthy, "unhealthy", http.StatusConflict},
	{target.ErrInvalid, "invalid", http.StatusBadRequest},
}

// KindError maps an APIError kind back to the target error.
func KindError(kind string) error {
	for _, k := range kinds {
		if k.kind == kind {
			return k.err
		}
	}
	return nil
}

// Handler serves the agent API:
//
//	PUT    /v1/services                      apply a target.Desired
//	GET    /v1/services/{env}/{service}      observe
//	DELETE /v1/services/{env}/{service}      drain and stop everything
//	GET    /v1/services/{env}/{service}/counters
//	GET    /v1/services/{env}/{service}/logs?version=V&lines=N&follow=1
//	GET    /v1/sd                            Prometheus HTTP service discovery of the instances
//	GET    /metrics                          Prometheus exposition
func (a *Agent) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{a: a})
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/services", func(w http.ResponseWriter, r *http.Request) {
		var d target.Desired
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			writeErr(w, fmt.Errorf("%w: request body: %v", target.ErrInvalid, err))
			return
		}
		if err := a.Apply(r.Context(), d); err != nil {
			writeErr(w, err)
			return
		}
		o, err := a.Observe(r.Context(), d.Environment, d.Service)
		writeJSON(w, o, err)
	})
	mux.HandleFunc("GET /v1/services/{env}/{service}", func(w http.ResponseWriter, r *http.Request) {
		o, err := a.Observe(r.Context(), r.PathValue("env"), r.PathValue("service"))
		writeJSON(w, o, err)
	})
	mux.HandleFunc("DELETE /v1/services/{env}/{service}", func(w http.ResponseWriter, r *http.Request) {
		err := a.Remove(r.Context(), r.PathValue("env"), r.PathValue("service"))
		writeJSON(w, struct{}{}, err)
	})
	mux.HandleFunc("GET /v1/services/{env}/{service}/counters", func(w http.ResponseWriter, r *http.Request) {
		c, err := a.Counters(r.Context(), r.PathValue("env"), r.PathValue("service"))
		writeJSON(w, c, err)
	})
	mux.HandleFunc("GET /v1/services/{env}/{service}/logs", a.serveLogs)
	mux.HandleFunc("GET /v1/sd", a.serveSD)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

func writeJSON(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeErr(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, err error) {
	body, status := APIError{Error: err.Error()}, http.StatusInternalServerError
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			body.Kind, status = k.kind, k.status
			break
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// serveLogs writes the last lines of each instance's log, prefixed with
// version/instance, and with follow=1 keeps writing what they append.
func (a *Agent) serveLogs(w http.ResponseWriter, r *http.Request) {
	files, err := a.LogFiles(r.PathValue("env"), r.PathValue("service"), r.URL.Query().Get("version"))
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("%w: no instances of version %q", target.ErrNotFound, r.URL.Query().Get("version"))
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	lines, _ := strconv.Atoi(r.URL.Query().Get("lines"))
	if lines <= 0 {
		lines = 100
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	offsets := make([]int64, len(files))
	for i, f := range files {
		prefix := f.Version + "/" + f.Instance + " | "
		for _, l := range splitLines(a.redact.String(lastLines(f.Path, lines))) {
			fmt.Fprintln(w, prefix+l)
		}
		if fi, err := os.Stat(f.Path); err == nil {
			offsets[i] = fi.Size()
		}
	}
	if r.URL.Query().Get("follow") != "1" {
		return
	}
	flusher, _ := w.(http.Flusher)
	for {
		if flusher != nil {
			flusher.Flush()
		}
		if !sleepCtx(r.Context(), 200*time.Millisecond) {
			return
		}
		for i, f := range files {
			offsets[i] = follow(w, f, offsets[i], &a.redact)
		}
	}
}

// follow writes the lines appended to f since off and returns the new
// offset; a file that shrank was rotated (copy-truncate) and is read from 0.
func follow(w io.Writer, f LogFile, off int64, redact *secret.Redactor) int64 {
	fh, err := os.Open(f.Path)
	if err != nil {
		return off
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return off
	}
	if fi.Size() < off {
		off = 0
	}
	if _, err := fh.Seek(off, io.SeekStart); err != nil {
		return off
	}
	br := bufio.NewReader(fh)
	for {
		line, err := br.ReadString('\n')
		if err != nil { // an unfinished last line waits for its newline
			return off
		}
		off += int64(len(line))
		fmt.Fprint(w, f.Version+"/"+f.Instance+" | "+redact.String(line))
	}
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(stringsReader(s))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// ServeUnix serves the API on a unix socket until ctx ends.
func (a *Agent) ServeUnix(ctx context.Context, path string) (net.Listener, error) {
	l, err := a.cfg.Sockets.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("agent socket %s: %w", path, err)
	}
	_ = os.Chmod(path, 0o600)
	go a.serve(ctx, l, a.Handler())
	return l, nil
}

// ServeTCP serves the API on a TCP address, every call but /metrics
// requiring "Authorization: Bearer token"; over TLS when conf is set,
// which an address other hosts can reach requires.
func (a *Agent) ServeTCP(ctx context.Context, addr, token string, conf *tls.Config) (net.Listener, error) {
	if err := CheckAPIAddress(addr, token, conf != nil); err != nil {
		return nil, err
	}
	l, err := a.cfg.Sockets.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("agent API: %w", err)
	}
	var ln net.Listener = l
	if conf != nil {
		ln = tls.NewListener(l, conf)
	}
	go a.serve(ctx, ln, bearer(token, a.Handler()))
	return l, nil
}

// CheckAPIAddress refuses a TCP API without a token, and one other hosts
// can reach (not loopback) without TLS: the token would cross the network
// in clear.
func CheckAPIAddress(addr, token string, withTLS bool) error {
	if token == "" {
		return errors.New("agent API on TCP needs a token: pass --token (or BELAY_AGENT_TOKEN)")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("agent API address %q: want host:port, e.g. 127.0.0.1:7070 or 0.0.0.0:7070: %v", addr, err)
	}
	if withTLS || host == "localhost" || net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback() {
		return nil
	}
	return fmt.Errorf("agent API address %q: other hosts can reach it and the API carries a token, so it needs TLS: "+
		"pass --tls-cert FILE --tls-key FILE, or --tls-self-signed (the certificate is made as STATE/api.crt: copy it "+
		"to the server as the host's ca_file); or listen on loopback such as 127.0.0.1:7070", addr)
}

func (a *Agent) serve(ctx context.Context, l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		// Calls in progress finish (a successor may serve the same socket already).
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = srv.Close()
	}()
	_ = srv.Serve(l)
}

func bearer(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, `{"error":"missing or wrong bearer token"}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
