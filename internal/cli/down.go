package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/belay-dev/belay/internal/agent"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/pidlock"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newDownCmd) }

// downResult is what `belay down` stopped, kept, and could not stop.
type downResult struct {
	Stopped   []process `json:"stopped"`
	Kept      []process `json:"kept,omitempty"`      // service instances, with --keep-services
	Survivors []process `json:"survivors,omitempty"` // still running: down failed
}

type process struct {
	What string `json:"what"` // server | agent | agent child | instance <pid file>
	PID  int    `json:"pid"`
}

func (p process) String() string { return fmt.Sprintf("%s (pid %d)", p.What, p.PID) }

func newDownCmd(g *Globals) *cobra.Command {
	var file string
	var keep bool
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the belay server, the agent and the agent's service instances on this host",
		Long: "down stops what runs for the home directory, found by the locks the server and agent hold: the\n" +
			"server, the agent (its keeper and child) and every service instance the agent recorded, even those\n" +
			"an agent that died left running. It then checks that each has exited and fails, naming them, if any\n" +
			"has not. --keep-services leaves the instances running for the next agent to adopt.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := filepath.Abs(g.HomeDir(file))
			if err != nil {
				return err
			}
			r := down(home, keep, grace)
			if err := g.emit(cmd.OutOrStdout(), r, func(w io.Writer) error { return printDown(w, r) }); err != nil {
				return err
			}
			if len(r.Survivors) > 0 {
				return fmt.Errorf("still running after down: %s; stop them by hand (kill PID) and run `belay down` again", joinProcs(r.Survivors))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "belay.yaml", "project file (its directory holds the default home)")
	cmd.Flags().BoolVar(&keep, "keep-services", false, "leave the service instances running (a later agent adopts them)")
	cmd.Flags().DurationVar(&grace, "grace", 15*time.Second, "how long each process gets after SIGTERM before SIGKILL")
	return cmd
}

// down stops server, agent and instances, then looks again at what runs.
func down(home string, keep bool, grace time.Duration) downResult {
	state, sock := agentPaths(&Globals{Home: home}, "", "")
	var r downResult
	server, _ := pidlock.Holder(serverLock(home))
	keeper, _ := pidlock.Holder(agentLock(sock))
	child := agentChild(state)
	sig := syscall.SIGTERM
	if keep {
		sig = syscall.SIGUSR2 // the agent's "stop, leave the instances running"
	}
	stopAll([]process{{"server", server}}, syscall.SIGTERM, grace, &r)
	stopAll([]process{{"agent", keeper}}, sig, grace, &r)
	if child != 0 && child != keeper {
		stopAll([]process{{"agent child", child}}, sig, grace, &r) // gone with its keeper, or orphaned by a kill -9 of it
	}
	for _, in := range agent.RunningInstances(state) {
		p := process{"instance " + relTo(home, in.PidFile), in.Pid}
		if keep {
			r.Kept = append(r.Kept, p)
			continue
		}
		agent.StopInstance(in)
		r.Stopped = append(r.Stopped, p)
	}
	// Look again: what holds a lock or is recorded as running has survived.
	if pid, _ := pidlock.Holder(serverLock(home)); pid != 0 {
		r.Survivors = append(r.Survivors, process{"server", pid})
	}
	if pid, _ := pidlock.Holder(agentLock(sock)); pid != 0 {
		r.Survivors = append(r.Survivors, process{"agent", pid})
	}
	if pid := agentChild(state); pid != 0 {
		r.Survivors = append(r.Survivors, process{"agent child", pid})
	}
	if !keep {
		for _, in := range agent.RunningInstances(state) {
			r.Survivors = append(r.Survivors, process{"instance " + relTo(home, in.PidFile), in.Pid})
		}
	}
	if len(r.Survivors) == 0 {
		_ = os.Remove(api.ReadyFile(home))
	}
	return r
}

// stopAll signals each live process, waits up to grace, then kills it.
func stopAll(ps []process, sig syscall.Signal, grace time.Duration, r *downResult) {
	for _, p := range ps {
		if !alive(p.PID) {
			continue
		}
		if err := stop(p.PID, sig, grace); err == nil {
			r.Stopped = append(r.Stopped, p)
		}
	}
}

// stop sends sig and waits; SIGKILL after grace, then waits a little more.
func stop(pid int, sig syscall.Signal, grace time.Duration) error {
	if err := syscall.Kill(pid, sig); err != nil {
		return err
	}
	if waitGone(pid, grace) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	if waitGone(pid, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("pid %d survived SIGKILL", pid)
}

func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// agentChild is the pid of the agent's child process while it runs.
func agentChild(state string) int {
	b, err := os.ReadFile(childPIDFile(state))
	if err != nil {
		return 0
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil || !alive(pid) || !isAgent(pid) {
		return 0
	}
	return pid
}

// isAgent reports whether pid runs `belay agent`: the file of a child whose
// keeper was killed may name a PID that another process has since taken.
func isAgent(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	return len(args) > 1 && args[1] == "agent"
}

// childPIDFile is where the agent's keeper records its serving child.
func childPIDFile(state string) string { return filepath.Join(state, "agent.child.pid") }

func printDown(w io.Writer, r downResult) error {
	switch {
	case len(r.Stopped) == 0 && len(r.Kept) == 0 && len(r.Survivors) == 0:
		_, err := fmt.Fprintln(w, "belay is not running")
		return err
	case len(r.Survivors) == 0:
		fmt.Fprintln(w, "belay is down")
	}
	for _, p := range r.Stopped {
		fmt.Fprintf(w, "  stopped  %s\n", p)
	}
	for _, p := range r.Kept {
		fmt.Fprintf(w, "  kept     %s\n", p)
	}
	for _, p := range r.Survivors {
		fmt.Fprintf(w, "  RUNNING  %s\n", p)
	}
	return nil
}

func joinProcs(ps []process) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func relTo(base, path string) string {
	if r, err := filepath.Rel(base, path); err == nil {
		return r
	}
	return path
}
