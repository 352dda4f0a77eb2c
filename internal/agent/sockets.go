package agent

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/agent/supervise"
)

// Sockets opens the listening sockets the agent serves: each service's
// proxy address and the agent's API. The default binds them in this
// process; under belay's keeper (internal/agent/keeper) the keeper holds
// them, so they outlive this process and a restarted agent takes the same
// sockets while the kernel queues new connections.
type Sockets interface {
	Listen(network, addr string) (net.Listener, error)
	// Release gives a socket up for good (its service was removed).
	Release(network, addr string) error
}

// bindHere is the default Sockets: this process owns every socket.
type bindHere struct{}

func (bindHere) Listen(network, addr string) (net.Listener, error) {
	if network == "unix" {
		// A live agent answers here; a stale file left by a killed one is replaced.
		if c, err := net.DialTimeout("unix", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil, fmt.Errorf("agent socket %s: another agent is listening there; stop it or pass another --socket", addr)
		}
		_ = os.Remove(addr)
	}
	return net.Listen(network, addr)
}

func (bindHere) Release(string, string) error { return nil }

// Instance is a service process recorded in an agent's state directory.
type Instance struct {
	PidFile string
	Pid     int
}

// RunningInstances lists the service processes recorded under stateDir that
// still run, whether or not an agent is alive to supervise them: what
// `belay down` must stop, or report.
func RunningInstances(stateDir string) []Instance {
	var out []Instance
	_ = filepath.WalkDir(filepath.Join(stateDir, "run"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".pid") {
			return nil
		}
		if pf, _ := supervise.ReadPidFile(path); pf.Alive() {
			out = append(out, Instance{PidFile: path, Pid: pf.Pid})
		}
		return nil
	})
	return out
}

// StopInstance stops a recorded instance (its process group), if it is
// still the process the file names.
func StopInstance(in Instance) {
	if pf, _ := supervise.ReadPidFile(in.PidFile); pf != nil {
		pf.Kill()
	}
}
