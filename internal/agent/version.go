package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/belay-dev/belay/internal/agent/health"
	"github.com/belay-dev/belay/internal/agent/proxy"
	"github.com/belay-dev/belay/internal/agent/supervise"
	"github.com/belay-dev/belay/internal/target"
)

// version is one generation of a version's instances. A changed run spec,
// artifact or instance count makes a new generation, started beside the old one.
type version struct {
	spec      target.Version
	gen       int64
	dir       string // opened artifact
	stats     *proxy.Stats
	weight    float64 // in force
	instances []*instance
	failures  atomic.Int64 // counted health-check failures
	// health is the check in force; a new desired state may change it
	// without restarting the instances.
	health atomic.Pointer[target.Health]
}

// instance is one process of a version.
type instance struct {
	idx     int
	port    int
	logPath string
	proc    *supervise.Process
	backend *proxy.Backend
	ready   atomic.Bool
	stop    context.CancelFunc // ends the health loop
	done    chan struct{}
}

// sameRun reports whether want can keep running as v without a restart.
func (v *version) sameRun(want target.Version) bool {
	return v.spec.Artifact == want.Artifact && v.spec.Instances == want.Instances &&
		reflect.DeepEqual(v.spec.Run, want.Run)
}

func (v *version) ready() int {
	n := 0
	for _, in := range v.instances {
		if in.ready.Load() {
			n++
		}
	}
	return n
}

func (v *version) restarts() int64 {
	var n int64
	for _, in := range v.instances {
		n += in.proc.Restarts()
	}
	return n
}

func (v *version) inFlight() int64 {
	var n int64
	for _, in := range v.instances {
		n += in.backend.InFlight()
	}
	return n
}

// resolveCommand finds the entrypoint: a file inside the artifact, or a
// command on the host's PATH.
func resolveCommand(dir, cmd string) (string, error) {
	if strings.Contains(cmd, "/") || fileIn(dir, cmd) {
		p := filepath.Join(dir, cmd)
		if rel, err := filepath.Rel(dir, p); err != nil || strings.HasPrefix(rel, "..") {
			return "", fmt.Errorf("%w: run.command %q points outside the artifact", target.ErrInvalid, cmd)
		}
		if !fileIn(dir, cmd) {
			return "", fmt.Errorf("%w: run.command %q: no such file in the artifact", target.ErrInvalid, cmd)
		}
		return p, nil
	}
	p, err := exec.LookPath(cmd)
	if err != nil {
		return "", fmt.Errorf("%w: run.command %q is neither a file in the artifact nor a command on PATH", target.ErrInvalid, cmd)
	}
	return p, nil
}

func fileIn(dir, name string) bool {
	fi, err := os.Stat(filepath.Join(dir, name))
	return err == nil && fi.Mode().IsRegular()
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// instanceEnv is what an instance sees: a small base from the agent's
// environment, the version's env, and the port to listen on.
func instanceEnv(k key, v target.Version, port int) []string {
	env := []string{}
	for _, name := range []string{"PATH", "HOME", "LANG", "TZ", "TMPDIR"} {
		if val, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+val)
		}
	}
	env = append(env, "BELAY_SERVICE="+k.service, "BELAY_ENVIRONMENT="+k.env, "BELAY_VERSION="+v.Version)
	for name, val := range v.Run.Env {
		env = append(env, name+"="+val)
	}
	for name, val := range v.Run.SecretEnv {
		env = append(env, name+"="+val)
	}
	return append(env, "PORT="+strconv.Itoa(port))
}

// lastLines returns up to n last lines of a file, for error messages.
func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func healthCheck(h target.Health) health.Check {
	return health.Check{Path: h.HTTPPath, Status: h.ExpectStatus, Timeout: h.Timeout}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
