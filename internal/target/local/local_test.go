package local

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/agent"
	"github.com/belay-dev/belay/internal/agent/agenttest"
	"github.com/belay-dev/belay/internal/target"
	"github.com/belay-dev/belay/internal/target/targettest"
)

func version(name string, weight float64, env ...string) target.Version {
	e := map[string]string{"VERSION": name}
	for i := 0; i+1 < len(env); i += 2 {
		e[env[i]] = env[i+1]
	}
	return target.Version{
		Version: name, Artifact: "hello:" + name, Instances: 1, Weight: weight,
		Run:    target.Run{Command: "hello", Env: e, GracePeriod: 3 * time.Second},
		Health: target.Health{HTTPPath: "/healthz", Interval: 100 * time.Millisecond, UnhealthyThreshold: 2, HealthTimeout: 10 * time.Second},
	}
}

func request(o target.Observed) (string, error) {
	resp, err := http.Get("http://" + o.Listen + "/")
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Belay-Version"), nil
}

func TestSuite(t *testing.T) {
	a, err := agent.New(agent.Config{StateDir: t.TempDir(), Opener: agenttest.HelloOpener{}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	if _, err := a.ServeUnix(ctx, sock); err != nil {
		t.Fatal(err)
	}
	targettest.Run(t, targettest.Harness{
		Target: Unix(sock),
		Base:   target.Desired{Environment: "test", Service: "hello", Listen: "127.0.0.1:0", VersionHeader: "X-Belay-Version", DrainTimeout: 5 * time.Second},
		Good:   func(n string, w float64) target.Version { return version(n, w) },
		Sick: func(n string, w float64) target.Version {
			v := version(n, w, "HEALTH", "fail")
			v.Health.HealthTimeout = time.Second
			return v
		},
		Missing: func(n string, w float64) target.Version { v := version(n, w); v.Artifact = "missing:" + n; return v },
		Request: request,
	})
}

func TestUnreachableAgent(t *testing.T) {
	_, err := Unix(filepath.Join(t.TempDir(), "none.sock")).Observe(context.Background(), "e", "s")
	if err == nil || !strings.Contains(err.Error(), "is `belay agent` running?") {
		t.Fatalf("got %v", err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if belayBin != "" {
		os.RemoveAll(filepath.Dir(belayBin))
	}
	os.Exit(code)
}

var (
	belayOnce sync.Once
	belayBin  string
	belayErr  error
)

// belay builds the belay binary once per test run.
func belay(t *testing.T) string {
	belayOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..", "..")
		dir, err := os.MkdirTemp("", "belay-bin-")
		if err != nil {
			belayErr = err
			return
		}
		belayBin = filepath.Join(dir, "belay")
		cmd := exec.Command("go", "build", "-o", belayBin, "./cmd/belay")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			belayErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if belayErr != nil {
		t.Fatal(belayErr)
	}
	return belayBin
}

func startAgent(t *testing.T, state, sock string) *exec.Cmd {
	cmd := exec.Command(belay(t), "agent", "--state", state, "--socket", sock)
	if testing.Verbose() {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := Unix(sock).Observe(context.Background(), "x", "y"); err == nil || !strings.Contains(err.Error(), "unreachable") {
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatal("agent did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill -9 of the agent: the instances keep running, and a new agent
// restores routing by adopting them; traffic resumes at the same address.
func TestAgentKill9AndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the belay binary")
	}
	hello, err := agenttest.HelloDir()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	sock := filepath.Join(state, "a.sock")
	first := startAgent(t, state, sock)
	c := Unix(sock)
	v1, v2 := version("v1", 70), version("v2", 30)
	v1.Artifact, v2.Artifact = "dir:"+hello, "dir:"+hello
	d := target.Desired{Environment: "prod", Service: "hello", Listen: "127.0.0.1:0", Versions: []target.Version{v1, v2}, VersionHeader: "X-Belay-Version"}
	if err := c.Apply(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	o, err := c.Observe(context.Background(), "prod", "hello")
	if err != nil {
		t.Fatal(err)
	}
	_ = first.Process.Signal(syscall.SIGKILL)
	_ = first.Wait()
	second := startAgent(t, state, sock)
	defer func() {
		_ = c.Remove(context.Background(), "prod", "hello")
		_ = second.Process.Signal(syscall.SIGTERM)
		_ = second.Wait()
	}()
	after, err := c.Observe(context.Background(), "prod", "hello")
	if err != nil || after.Listen != o.Listen {
		t.Fatalf("restored listen %q (was %q): %v", after.Listen, o.Listen, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	n := map[string]int{}
	for n["v1"]+n["v2"] < 200 {
		v, err := request(after)
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("no traffic after restart: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		n[v]++
	}
	if n["v2"] < 30 || n["v2"] > 90 {
		t.Fatalf("split after restart %v, want ~30%% v2", n)
	}
	// Each instance started once: the new agent adopted them.
	var logs strings.Builder
	if err := c.Logs(context.Background(), "prod", "hello", "", 100, false, &logs); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "=== belay: starting"); n != 2 {
		t.Fatalf("%d starts logged for 2 instances; want them adopted, not restarted:\n%s", n, logs.String())
	}
}
