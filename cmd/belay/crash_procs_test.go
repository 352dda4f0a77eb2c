package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/api"
)

// crashRig is a project with a built belay binary, an agent process and a
// server process that the test kills with SIGKILL and starts again.
type crashRig struct {
	t          *testing.T
	bin, proj  string
	home, sock string
	// serverHome is the server's --home (default home): another one plays
	// a server started on another host.
	serverHome string
	env        []string
	agent      *exec.Cmd
	server     *exec.Cmd
	api        string // base URL of the running server
	tok        string // the first admin token, once read
	restarts   int
	downtime   time.Duration // total time from kill to the new server (or agent) answering
	kill       func()        // what follow kills in each phase (default: crash, the server)
	killedAt   []time.Time   // when each agent kill happened
}

// newCrashRig builds belay, copies examples/hello into a git repository with
// belay.yaml widened by edit, and returns the rig (nothing running yet).
func newCrashRig(t *testing.T, edit func(string) string) *crashRig {
	dir := t.TempDir()
	r := &crashRig{t: t, bin: filepath.Join(dir, "belay"), proj: filepath.Join(dir, "proj")}
	r.home = filepath.Join(r.proj, ".belay")
	r.sock = filepath.Join(r.home, "agent.sock")
	build := exec.Command("go", "build", "-o", r.bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build belay: %v\n%s", err, out)
	}
	if err := os.CopyFS(r.proj, os.DirFS(filepath.Join("..", "..", "examples", "hello"))); err != nil {
		t.Fatal(err)
	}
	yml := filepath.Join(r.proj, "belay.yaml")
	b, err := os.ReadFile(yml)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(yml, []byte(edit(string(b))), 0o644); err != nil {
		t.Fatal(err)
	}
	r.env = append(os.Environ(), "BELAY_HOME=", "BELAY_STATE=", "BELAY_SERVER=", "BELAY_TOKEN=",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	return r
}

// run runs a command in the project and returns its stdout.
func (r *crashRig) run(name string, args ...string) string {
	r.t.Helper()
	c := exec.Command(name, args...)
	c.Dir, c.Env = r.proj, r.env
	if t := r.token(); t != "" { // the first server may have written it in another home
		c.Env = append(slices.Clone(r.env), "BELAY_TOKEN="+t)
	}
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		r.t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// commit commits the project as it is and builds a version of hello.
func (r *crashRig) commit(msg string) string {
	r.t.Helper()
	if _, err := os.Stat(filepath.Join(r.proj, ".git")); err != nil {
		r.run("git", "init", "-q", "-b", "main")
	}
	r.run("git", "add", "-A")
	r.run("git", "commit", "-q", "-m", msg)
	m := regexp.MustCompile(`(?m)^(hello-\S+) published`).FindStringSubmatch(r.run(r.bin, "build", "hello"))
	if m == nil {
		r.t.Fatalf("belay build hello: no version published")
	}
	return m[1]
}

// spawn starts the binary with args in its own process group, logging to home/log.
func (r *crashRig) spawn(log string, args ...string) *exec.Cmd {
	r.t.Helper()
	f, err := os.OpenFile(filepath.Join(r.home, log), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	c := exec.Command(r.bin, args...)
	c.Dir, c.Env, c.Stdout, c.Stderr = r.proj, r.env, f, f
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		r.t.Fatal(err)
	}
	return c
}

// start runs the agent and the server; cleanup stops both (the agent stops
// its instances on SIGTERM).
func (r *crashRig) start() {
	if err := os.MkdirAll(r.home, 0o755); err != nil {
		r.t.Fatal(err)
	}
	r.startAgent()
	r.t.Cleanup(func() {
		for _, c := range []*exec.Cmd{r.server, r.agent} {
			if c == nil || c.ProcessState != nil {
				continue
			}
			_ = c.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = c.Process.Kill()
				<-done
			}
		}
	})
	r.startServer()
}

// startAgent starts the agent and waits until its API answers.
func (r *crashRig) startAgent() {
	r.t.Helper()
	r.agent = r.spawn("agent.log", "agent", "--home", r.home, "-f", "belay.yaml", "--state", filepath.Join(r.home, "agent"),
		"--socket", r.sock, "--stop-on-exit")
	for i := 0; !agentAnswers(r.sock); i++ {
		if i > 500 {
			r.t.Fatalf("agent does not answer on %s; see %s", r.sock, filepath.Join(r.home, "agent.log"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startServer starts `belay server` on the same home, store and agent
// socket and waits until its API answers.
func (r *crashRig) startServer() {
	r.t.Helper()
	home := r.home
	if r.serverHome != "" {
		home = r.serverHome
	}
	ready := api.ReadyFile(home)
	_ = os.Remove(ready)
	r.server = r.spawn("server.log", "server", "--home", home, "-f", "belay.yaml", "--agent", r.sock, "--ready-file", ready, "--tick", "200ms")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if rd, err := api.ReadReady(ready); err == nil && rd.ServerPID == r.server.Process.Pid {
			if resp, err := http.Get(rd.Server + "/healthz"); err == nil {
				resp.Body.Close()
				r.api = rd.Server
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatalf("server not ready after 30s; see %s", filepath.Join(r.home, "server.log"))
}

// crash kills the server with SIGKILL, alone, and starts a new one.
func (r *crashRig) crash() {
	r.t.Helper()
	t0 := time.Now()
	if err := r.server.Process.Signal(syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
	_ = r.server.Wait()
	r.startServer()
	r.restarts++
	r.downtime += time.Since(t0)
}

// killAgentChild kills the agent's child with SIGKILL and waits until its
// keeper has a new one serving.
func (r *crashRig) killAgentChild() {
	r.t.Helper()
	pidFile := filepath.Join(r.home, "agent", "agent.child.pid")
	old := readPID(pidFile)
	if old == 0 {
		r.t.Fatalf("no agent child in %s", pidFile)
	}
	t0 := time.Now()
	r.killedAt = append(r.killedAt, t0)
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
	for deadline := t0.Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if now := readPID(pidFile); now != 0 && now != old && agentAnswers(r.sock) {
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no new agent child 10s after kill -9 of pid %d; see %s", old, filepath.Join(r.home, "agent.log"))
		}
	}
	r.restarts++
	r.downtime += time.Since(t0)
	// Let the new child serve the connections queued while there was none,
	// so that the next kill finds only the usual requests in flight, not
	// that burst: each kill is then measured on its own.
	time.Sleep(250 * time.Millisecond)
}

// killAgentKeeper kills the agent's keeper with SIGKILL, waits for its
// child to hand over and exit, and starts the agent again.
func (r *crashRig) killAgentKeeper() {
	r.t.Helper()
	child := readPID(filepath.Join(r.home, "agent", "agent.child.pid"))
	t0 := time.Now()
	if err := r.agent.Process.Signal(syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
	_ = r.agent.Wait()
	for i := 0; child > 0 && syscall.Kill(child, 0) == nil; i++ {
		if i > 1000 {
			r.t.Fatalf("the agent's child %d still runs 10s after its keeper was killed", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.startAgent()
	r.restarts++
	r.downtime += time.Since(t0)
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

func agentAnswers(sock string) bool {
	c, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.0\r\n\r\n"); err != nil {
		return false
	}
	b := make([]byte, 12)
	n, _ := io.ReadFull(c, b)
	return n == 12 && string(b[9:12]) == "200"
}

// token is the first admin token, which the first server to start on the
// store wrote into its home.
func (r *crashRig) token() string {
	if r.tok != "" {
		return r.tok // a server started later on the same store makes none
	}
	for _, home := range []string{r.serverHome, r.home} {
		if home == "" {
			continue
		}
		if t, err := api.Token(home); err == nil && t != "" {
			r.tok = t
			return t
		}
	}
	return ""
}

// get decodes GET path from the running server; errors are returned, not
// fatal, because the server may be down between a kill and its restart.
func (r *crashRig) get(path string, v any) error { return r.call("GET", path, nil, v) }

// raw reads GET path's body as text (the server's /metrics).
func (r *crashRig) raw(path string, body *string) error {
	return r.do("GET", path, nil, func(rd io.Reader) error {
		b, err := io.ReadAll(rd)
		*body = string(b)
		return err
	})
}

// post sends in as JSON to path and decodes the answer into out.
func (r *crashRig) post(path string, in, out any) error { return r.call("POST", path, in, out) }

func (r *crashRig) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	return r.do(method, path, body, func(rd io.Reader) error { return json.NewDecoder(rd).Decode(out) })
}

// do sends an authorized request to the running server and hands a 200
// answer's body to read.
func (r *crashRig) do(method, path string, body io.Reader, read func(io.Reader) error) error {
	req, err := http.NewRequest(method, r.api+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	api.Authorize(req, r.token())
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	return read(resp.Body)
}

// freePort returns a loopback address nothing listens on right now.
func freePort(t *testing.T) string {
	addr, err := pickPort()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
