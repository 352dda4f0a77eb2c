package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/belay-dev/belay/internal/api"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/loadgen"
)

// Options configure a demo run.
type Options struct {
	Self  string // the belay executable
	Argv0 string // argv[0] to run it with (multi-call test binaries dispatch on it)
	Dir   string // work directory; a temporary one when empty
	Keep  bool   // keep Dir and leave server and agent running
	RPS   int    // production load, requests per second
	Out   io.Writer
}

// Summary is what the demo did, in numbers.
type Summary struct {
	Dir        string        `json:"dir"`
	Server     string        `json:"server"`
	Production string        `json:"production"`
	Versions   [3]string     `json:"versions"`
	Stable     string        `json:"stable"`
	Detected   time.Duration `json:"detected_after"` // canary start to rollback
	BadServed  loadgen.Count `json:"bad_version_requests"`
	Requests   int64         `json:"requests"`
	Failed     int64         `json:"failed"`
	Unrouted   int64         `json:"connection_errors"`
	BadRollout int64         `json:"bad_rollout"`
	Took       time.Duration `json:"took"`
}

type run struct {
	Options
	project string // the project directory
	ready   api.Ready
	load    *loadgen.Load // production's users, once production exists
	step    int
	start   time.Time
}

// Run tells the whole story: three builds, a good release through staging
// and production, a good canary promoted, a bad canary rolled back.
func Run(ctx context.Context, o Options) (Summary, error) {
	r := &run{Options: o, start: time.Now()}
	if r.RPS <= 0 {
		r.RPS = 150
	}
	if err := r.prepare(); err != nil {
		return Summary{}, err
	}
	if !o.Keep {
		defer os.RemoveAll(r.Dir)
		defer r.belay(context.Background(), "down")
	}
	return r.story(ctx)
}

func (r *run) story(ctx context.Context) (Summary, error) {
	var s Summary
	s.Dir, s.Versions = r.Dir, [3]string{}
	r.say("Build three versions of the example service, each an immutable, signed artifact")
	if _, err := r.belay(ctx, "keys", "create"); err != nil {
		return s, err
	}
	for i, change := range []func() error{nil, r.goodChange, r.badChange} {
		v, err := r.build(ctx, i, change)
		if err != nil {
			return s, err
		}
		s.Versions[i] = v
	}
	r.say("Start belay's server and agent on this host")
	if err := r.up(ctx); err != nil {
		return s, err
	}
	s.Server, s.Production = r.ready.Server, r.listen("production")
	if err := r.release(ctx, s.Versions[0], "v1: the first release goes to staging, then production", "Succeeded"); err != nil {
		return s, err
	}
	// Users arrive once production exists; from here on every failed
	// request counts against belay, except those v3's bug causes.
	r.load = loadgen.Start("http://"+s.Production+"/", loadgen.Options{Rate: float64(r.RPS), Header: api.VersionHeader})
	defer r.load.Stop()
	fmt.Fprintf(r.Out, "   users arrive: %d requests/s to production at http://%s/\n", r.RPS, s.Production)
	if err := r.release(ctx, s.Versions[1], "v2: a good change, canaried in production (10 % → 50 % → 100 %) and promoted", "Succeeded"); err != nil {
		return s, err
	}
	if err := r.release(ctx, s.Versions[2], "v3: a bug that fails 30 % of requests under load: it passes its smoke tests, then its canary is caught and rolled back", "RolledBack"); err != nil {
		return s, err
	}
	r.load.Stop()
	return r.summarise(ctx, s)
}

// served is what production's users have had from version so far.
func (r *run) served(version string) loadgen.Count {
	if r.load == nil {
		return loadgen.Count{}
	}
	return r.load.Tally().ByVersion[version]
}

func (r *run) say(title string) {
	r.step++
	fmt.Fprintf(r.Out, "\n%d. %s  [%s]\n", r.step, title, time.Since(r.start).Round(time.Second))
}

// prepare writes the example project into a fresh git repository, with free
// ports for the proxies.
func (r *run) prepare() error {
	if r.Dir == "" {
		d, err := os.MkdirTemp("", "belay-demo-")
		if err != nil {
			return err
		}
		r.Dir = d
	}
	r.project = filepath.Join(r.Dir, "hello")
	if err := WriteHello(r.project); err != nil {
		return err
	}
	yaml := filepath.Join(r.project, "belay.yaml")
	b, err := os.ReadFile(yaml)
	if err != nil {
		return err
	}
	for _, old := range []string{"127.0.0.1:18081", "127.0.0.1:18082"} {
		port, err := freePort()
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, []byte(old), []byte(port))
	}
	if err := os.WriteFile(yaml, b, 0o644); err != nil {
		return err
	}
	if err := r.git("init", "-q", "-b", "main"); err != nil {
		return fmt.Errorf("git is needed for the demo's builds: %w", err)
	}
	fmt.Fprintf(r.Out, "belay demo: the example service in %s\n", r.project)
	return nil
}

func (r *run) build(ctx context.Context, i int, change func() error) (string, error) {
	if change != nil {
		if err := change(); err != nil {
			return "", err
		}
	}
	if err := r.git("add", "-A"); err != nil {
		return "", err
	}
	if err := r.git("commit", "-q", "-m", fmt.Sprintf("v%d", i+1)); err != nil {
		return "", err
	}
	out, err := r.belay(ctx, "build", "hello", "-o", "json")
	if err != nil {
		return "", err
	}
	var p struct{ Version, Digest string }
	if err := json.Unmarshal(out, &p); err != nil {
		return "", fmt.Errorf("belay build printed no artifact: %w", err)
	}
	fmt.Fprintf(r.Out, "   v%d = %s  %s\n", i+1, p.Version, p.Digest[:19])
	return p.Version, nil
}

func (r *run) goodChange() error {
	return r.edit("main.go", `"service": "hello",`, `"service": "hello", "greeting": "hello, world",`)
}

func (r *run) badChange() error {
	return os.WriteFile(filepath.Join(r.project, "bug.go"), []byte("package main\n\n// A bug that reached a release: under load, 30 % of requests fail.\nfunc init() { bugErrorRate, bugAfter = 0.3, 20 }\n"), 0o644)
}

func (r *run) edit(file, old, repl string) error {
	p := filepath.Join(r.project, file)
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(old)) {
		return fmt.Errorf("demo: %s no longer contains %q", file, old)
	}
	return os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(repl), 1), 0o644)
}

func (r *run) up(ctx context.Context) error {
	if _, err := r.belay(ctx, "up"); err != nil {
		return err
	}
	ready, err := api.ReadReady(api.ReadyFile(filepath.Join(r.project, ".belay")))
	r.ready = ready
	return err
}

// listen is the proxy address of an environment, read back from belay.yaml.
func (r *run) listen(env string) string {
	b, _ := os.ReadFile(filepath.Join(r.project, "belay.yaml"))
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) == "- name: "+env && i+1 < len(lines) {
			return strings.TrimSpace(strings.Split(strings.TrimPrefix(strings.TrimSpace(lines[i+1]), "listen:"), "#")[0])
		}
	}
	return ""
}

// belay runs the belay binary in the project and returns its stdout.
func (r *run) belay(ctx context.Context, args ...string) ([]byte, error) {
	show := "belay " + strings.Join(args, " ")
	if !strings.Contains(show, "-o json") && args[0] != "down" {
		fmt.Fprintf(r.Out, "   $ %s\n", show)
	}
	c := exec.CommandContext(ctx, r.Self, args...)
	if r.Argv0 != "" {
		c.Args[0] = r.Argv0
	}
	c.Dir = r.project
	c.Env = append(os.Environ(), "BELAY_HOME=", "BELAY_STATE=", "BELAY_SERVER=", "BELAY_TOKEN=")
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s%s", show, err, errb.String(), out.String())
	}
	return out.Bytes(), nil
}

func (r *run) git(args ...string) error {
	c := exec.Command("git", args...)
	c.Dir = r.project
	c.Env = append(os.Environ(), "GIT_AUTHOR_NAME=belay demo", "GIT_AUTHOR_EMAIL=demo@belay.invalid",
		"GIT_COMMITTER_NAME=belay demo", "GIT_COMMITTER_EMAIL=demo@belay.invalid")
	if out, err := c.CombinedOutput(); err != nil {
		return fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// get decodes a GET of the server's API into v.
func (r *run) get(ctx context.Context, path string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.ready.Server+"/api/v1"+path, nil)
	token, err := api.Token(filepath.Join(r.project, ".belay"))
	if err != nil {
		return err
	}
	api.Authorize(req, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return errors.New(strings.TrimSpace(string(b)))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
