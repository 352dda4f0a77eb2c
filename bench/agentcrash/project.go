package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/pidlock"
)

// project is examples/hello in a temporary git repository, run by a belay
// binary built for the bench: `belay up` state lives in proj/.belay.
type project struct {
	tmp, bin, proj, home string
	binA, binB           string // two builds of belay that differ, swapped in at bin on upgrades
	staging, production  string // proxy addresses
	env                  []string
	api                  string // the server's base URL, once up
}

// newProject builds belay twice (the second build differs only in its
// recorded link flags, so that an upgrade replaces the binary with another
// file) and copies examples/hello into tmp/proj on free ports.
func newProject(ctx context.Context, tmp string) (*project, error) {
	if _, err := os.Stat(filepath.Join("examples", "hello", "belay.yaml")); err != nil {
		return nil, fmt.Errorf("run from the repository root (examples/hello/belay.yaml: %w)", err)
	}
	p := &project{tmp: tmp, bin: filepath.Join(tmp, "belay"), binA: filepath.Join(tmp, "belay-a"), binB: filepath.Join(tmp, "belay-b"),
		proj: filepath.Join(tmp, "proj")}
	p.home = filepath.Join(p.proj, ".belay")
	for _, b := range []struct{ out, ldflags string }{{p.binA, ""}, {p.binB, "-X=main.agentcrashBuild=b"}} {
		out, err := exec.CommandContext(ctx, "go", "build", "-ldflags="+b.ldflags, "-o", b.out, "./cmd/belay").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("go build ./cmd/belay: %v\n%s", err, out)
		}
	}
	if err := copyFile(p.binA, p.bin); err != nil {
		return nil, err
	}
	if err := os.CopyFS(p.proj, os.DirFS(filepath.Join("examples", "hello"))); err != nil {
		return nil, err
	}
	yml := filepath.Join(p.proj, "belay.yaml")
	b, err := os.ReadFile(yml)
	if err != nil {
		return nil, err
	}
	y := string(b)
	for _, e := range []struct {
		old  string
		addr *string
	}{{"127.0.0.1:18081", &p.staging}, {"127.0.0.1:18082", &p.production}} {
		if !strings.Contains(y, e.old) {
			return nil, fmt.Errorf("examples/hello/belay.yaml no longer listens on %s; update bench/agentcrash", e.old)
		}
		if *e.addr, err = freeAddr(); err != nil {
			return nil, err
		}
		y = strings.ReplaceAll(y, e.old, *e.addr)
	}
	if err := os.WriteFile(yml, []byte(y), 0o644); err != nil {
		return nil, err
	}
	p.env = append(os.Environ(), "BELAY_HOME=", "BELAY_STATE=", "BELAY_SERVER=", "BELAY_AGENT_STATE=", "BELAY_AGENT_SOCKET=",
		"BELAY_TOKEN=", "GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com",
		"GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.com")
	return p, nil
}

// belay runs the bench's belay in the project and returns its stdout.
func (p *project) belay(ctx context.Context, args ...string) (string, error) {
	return p.run(ctx, p.bin, args...)
}

func (p *project) run(ctx context.Context, name string, args ...string) (string, error) {
	c := exec.CommandContext(ctx, name, args...)
	c.Dir, c.Env = p.proj, p.env
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out), nil
}

var publishedRE = regexp.MustCompile(`(?m)^(hello-\S+) published`)

// version commits the project as edit leaves it and builds hello.
func (p *project) version(ctx context.Context, msg string, edit func() error) (string, error) {
	if err := edit(); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(p.proj, ".git")); err != nil {
		if _, err := p.run(ctx, "git", "init", "-q", "-b", "main"); err != nil {
			return "", err
		}
	}
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "--allow-empty", "-m", msg}} {
		if _, err := p.run(ctx, "git", args...); err != nil {
			return "", err
		}
	}
	out, err := p.belay(ctx, "build", "hello")
	if err != nil {
		return "", err
	}
	m := publishedRE.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("belay build hello published no version:\n%s", out)
	}
	return m[1], nil
}

// greeting makes main.go answer with greeting, so that every good version
// is another binary; bad adds the 30 % bug of release_flow.txtar.
func (p *project) greeting(orig []byte, greeting string, bad bool) func() error {
	return func() error {
		src := strings.Replace(string(orig), `"service": "hello",`, `"service": "hello", "greeting": "`+greeting+`",`, 1)
		if src == string(orig) && greeting != "" {
			return errors.New(`examples/hello/main.go no longer contains "service": "hello",; update bench/agentcrash`)
		}
		if err := os.WriteFile(filepath.Join(p.proj, "main.go"), []byte(src), 0o644); err != nil {
			return err
		}
		bug := filepath.Join(p.proj, "bug.go")
		if !bad {
			if err := os.Remove(bug); err != nil && !os.IsNotExist(err) {
				return err
			}
			return nil
		}
		return os.WriteFile(bug, []byte("package main\n\n// A bug that reached a release: under load, 30 % of requests fail.\nfunc init() { bugErrorRate, bugAfter = 0.3, 20 }\n"), 0o644)
	}
}

// up starts server and agent and remembers the server's address.
func (p *project) up(ctx context.Context) error {
	if _, err := p.belay(ctx, "up"); err != nil {
		return err
	}
	r, err := api.ReadReady(api.ReadyFile(p.home))
	if err != nil {
		return err
	}
	p.api = r.Server
	return nil
}

// get decodes GET path from the server.
func (p *project) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.api+path, nil)
	if err != nil {
		return err
	}
	token, err := api.Token(p.home)
	if err != nil {
		return err
	}
	api.Authorize(req, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

// release releases version and returns the release's number.
func (p *project) release(ctx context.Context, version string) (int64, error) {
	out, err := p.belay(ctx, "release", "hello", version, "-o", "json")
	if err != nil {
		return 0, err
	}
	var a api.ReleaseAnswer
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		return 0, fmt.Errorf("belay release -o json: %v: %s", err, out)
	}
	return a.Release, nil
}

// productionRollout waits for the rollout of version in production.
func (p *project) productionRollout(ctx context.Context, version string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		var rows []api.RolloutView
		if err := p.get(ctx, "/api/v1/rollouts?service=hello&environment=production", &rows); err == nil {
			for _, r := range rows {
				if r.Version == version {
					return r.ID, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no rollout of %s in production: %w", version, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// rollout is GET /api/v1/rollouts/{id}.
func (p *project) rollout(ctx context.Context, id int64) (api.RolloutView, error) {
	var v api.RolloutView
	err := p.get(ctx, fmt.Sprintf("/api/v1/rollouts/%d", id), &v)
	return v, err
}

// productionStatus is what the server says of hello in production.
func (p *project) productionStatus(ctx context.Context) (api.EnvStatus, error) {
	var st []api.ServiceStatus
	if err := p.get(ctx, "/api/v1/status?service=hello", &st); err != nil {
		return api.EnvStatus{}, err
	}
	for _, s := range st {
		for _, e := range s.Environments {
			if e.Environment == "production" {
				return e, nil
			}
		}
	}
	return api.EnvStatus{}, errors.New("status: hello has no production")
}

func (p *project) agentDir() string        { return filepath.Join(p.home, "agent") }
func (p *project) agentSocket() string     { return filepath.Join(p.agentDir(), "agent.sock") }
func (p *project) childPIDFile() string    { return filepath.Join(p.agentDir(), "agent.child.pid") }
func (p *project) keeperPID() (int, error) { return pidlock.Holder(p.agentSocket() + ".lock") }

// childPID is the serving agent child's pid, 0 when the file is missing.
func (p *project) childPID() int {
	b, err := os.ReadFile(p.childPIDFile())
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// swapBinary puts the other build at bin (rename over it, as a package
// manager installs a new version), so that the keeper execs another file.
func (p *project) swapBinary(n int) error {
	src := p.binA
	if n%2 == 1 {
		src = p.binB
	}
	tmp := p.bin + ".new"
	if err := copyFile(src, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, p.bin)
}

// down runs `belay down`, then stops by pid whatever of the bench's is
// still running (nothing, when down works) and says so.
func (p *project) down() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := os.Stat(p.home); err == nil {
		if out, err := p.belay(ctx, "down"); err != nil {
			fmt.Fprintf(os.Stderr, "agentcrash: belay down: %v\n", err)
		} else {
			fmt.Fprint(os.Stderr, indent(out))
		}
	}
	left := procsUnder(p.tmp)
	for _, pid := range left {
		fmt.Fprintf(os.Stderr, "agentcrash: still running after belay down, killing: pid %d %s\n", pid, cmdline(pid))
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// procsUnder lists live processes whose binary, arguments or working
// directory lie under dir: belay server and agent, and hello instances.
func procsUnder(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || zombie(pid) {
			continue
		}
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if strings.HasPrefix(cwd, dir+"/") || strings.Contains(cmdline(pid), dir+"/") {
			out = append(out, pid)
		}
	}
	return out
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil && !zombie(pid) }

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}
