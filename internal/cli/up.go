package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/belay-dev/belay/internal/agent/supervise"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/pidlock"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newUpCmd) }

// upResult is what `belay up` found or started.
type upResult struct {
	Server daemon `json:"server"`
	Agent  daemon `json:"agent"`
	Home   string `json:"home"`
}

// daemon is one of belay's processes on this host.
type daemon struct {
	Address string `json:"address"` // API URL or unix socket
	PID     int    `json:"pid"`
	State   string `json:"state"` // started | already running
}

const (
	started        = "started"
	alreadyRunning = "already running"
)

func newUpCmd(g *Globals) *cobra.Command {
	var file, agentAPI, installDir string
	var wait time.Duration
	var install bool
	var listen apiListen
	cmd := &cobra.Command{
		Use:   "up [--install]",
		Short: "Start the belay server and agent on this host (idempotent)",
		Long: "up starts `belay server` and `belay agent` in the background with state in the home directory and\n" +
			"writes their addresses to <home>/ready.json. It finds what already runs by the locks each holds\n" +
			"(<home>/server.lock, <agent socket>.lock), starts only what is missing, and says which is which.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := filepath.Abs(g.HomeDir(file))
			if err != nil {
				return err
			}
			serverArgs, err := listen.checkForUp()
			if err != nil {
				return err
			}
			if install {
				return runInstall(cmd, g, installDir, file, home, serverArgs)
			}
			r, err := up(cmd.Context(), g, home, file, agentAPI, serverArgs, wait)
			if err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), r, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "belay is up\n  server  %s (pid %d, %s)\n  agent   %s (pid %d, %s)\n  home    %s\n",
					r.Server.Address, r.Server.PID, r.Server.State, r.Agent.Address, r.Agent.PID, r.Agent.State, r.Home)
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "belay.yaml", "project file the server serves")
	cmd.Flags().BoolVar(&install, "install", false, "do not start anything: write systemd units for server and agent (restarted by systemd, started at boot)")
	cmd.Flags().StringVar(&installDir, "install-dir", "/etc/systemd/system", "where --install writes the units")
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Second, "how long to wait for server and agent to be ready")
	cmd.Flags().StringVar(&agentAPI, "agent-api", "", "also serve the agent's API on this loopback address, e.g. 127.0.0.1:7070,\n"+
		"for Prometheus to scrape /metrics (open; the rest needs the token generated into <home>/agent.token);\n"+
		"an agent already up keeps its listeners")
	listen.addFlags(cmd.Flags(), "", "the server's API address (default BELAY_LISTEN, else 127.0.0.1:0); other than loopback, only with TLS; "+
		"it and the --tls flags apply when up starts the server, a server already up keeps its own")
	return cmd
}

// up starts whichever of agent and server does not hold its lock, and
// waits until both answer.
func up(ctx context.Context, g *Globals, home, file, agentAPI string, serverArgs []string, wait time.Duration) (upResult, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return upResult{}, err
	}
	if _, err := os.Stat(abs); err != nil {
		return upResult{}, fmt.Errorf("project file %s: %w (run `belay init` to write one, or pass -f)", file, err)
	}
	if err := os.MkdirAll(home, 0o755); err != nil {
		return upResult{}, err
	}
	state, sock := agentPaths(&Globals{Home: home}, "", "") // where `belay logs` looks too
	res := upResult{Home: home, Agent: daemon{Address: sock, State: alreadyRunning}, Server: daemon{State: alreadyRunning}}
	deadline := time.Now().Add(wait)
	if res.Agent.PID, err = pidlock.Holder(agentLock(sock)); err != nil {
		return res, err
	}
	if res.Agent.PID == 0 {
		if res.Agent.PID, err = startAgent(home, abs, state, sock, agentAPI); err != nil {
			return res, err
		}
		res.Agent.State = started
	}
	if err := waitAgent(ctx, res.Agent.PID, sock, deadline, home); err != nil {
		return res, err
	}
	if res.Server.PID, err = pidlock.Holder(serverLock(home)); err != nil {
		return res, err
	}
	if res.Server.PID == 0 {
		_ = os.Remove(api.ReadyFile(home))
		args := append([]string{"server", "--home", home, "-f", abs, "--agent", sock, "--state", g.State}, serverArgs...)
		if res.Server.PID, err = spawn(home, "server.log", nil, args...); err != nil {
			return res, err
		}
		res.Server.State = started
	}
	r, err := waitServer(ctx, res.Server.PID, home, deadline)
	if err != nil {
		return res, err
	}
	res.Server.Address = r.Server
	r.AgentPID, r.AgentSocket = res.Agent.PID, sock
	return res, api.WriteReady(api.ReadyFile(home), r)
}

func runInstall(cmd *cobra.Command, g *Globals, dir, file, home string, serverArgs []string) error {
	project, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	if _, err := os.Stat(project); err != nil {
		return fmt.Errorf("project file %s: %w (run `belay init` to write one, or pass -f)", file, err)
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	paths, err := installUnits(g, dir, project, home, bin, serverArgs)
	if err != nil {
		return err
	}
	out := struct {
		Units []string `json:"units"`
		Next  string   `json:"next"`
	}{paths, "systemctl daemon-reload && systemctl enable --now belay-agent.service belay-server.service"}
	return g.emit(cmd.OutOrStdout(), out, func(w io.Writer) error {
		for _, p := range paths {
			fmt.Fprintf(w, "wrote %s\n", p)
		}
		_, err := fmt.Fprintf(w, "next: %s\n(stop `belay up`'s processes first with `belay down --keep-services`)\n", out.Next)
		return err
	})
}

// agentLock is the lock the agent serving sock holds for its life.
func agentLock(sock string) string { return sock + ".lock" }

func startAgent(home, project, state, sock, agentAPI string) (int, error) {
	args := []string{"agent", "--home", home, "-f", project, "--state", state, "--socket", sock, "--stop-on-exit"}
	var env []string
	if agentAPI != "" {
		tok, err := agentToken(home)
		if err != nil {
			return 0, err
		}
		args, env = append(args, "--listen-api", agentAPI), []string{"BELAY_AGENT_TOKEN=" + tok}
	}
	return spawn(home, "agent.log", env, args...)
}

// waitAgent waits until the agent's API answers on sock.
func waitAgent(ctx context.Context, pid int, sock string, deadline time.Time, home string) error {
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
			c.Close()
			return nil
		}
		if !alive(pid) {
			if other, _ := pidlock.Holder(agentLock(sock)); other != 0 {
				pid = other // another `belay up` started one first: ours lost the lock
				continue
			}
			return fmt.Errorf("belay agent (pid %d) exited during start-up; see %s", pid, filepath.Join(home, "agent.log"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("belay agent (pid %d) not answering on %s; see %s", pid, sock, filepath.Join(home, "agent.log"))
}

// waitServer waits until the server holding the home's lock has written
// its ready-file and answers there.
func waitServer(ctx context.Context, pid int, home string, deadline time.Time) (api.Ready, error) {
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if r, err := api.ReadReady(api.ReadyFile(home)); err == nil && r.ServerPID == pid && serverAnswers(ctx, r) {
			return r, nil
		}
		if !alive(pid) {
			if other, _ := pidlock.Holder(serverLock(home)); other != 0 {
				pid = other
				continue
			}
			return api.Ready{}, fmt.Errorf("belay server (pid %d) exited during start-up; see %s", pid, filepath.Join(home, "server.log"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return api.Ready{}, fmt.Errorf("belay server (pid %d) not ready; see %s", pid, filepath.Join(home, "server.log"))
}

// agentToken returns the token in <home>/agent.token, generating it the
// first time (in the environment, not argv, so ps does not show it).
func agentToken(home string) (string, error) {
	path := filepath.Join(home, "agent.token")
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(b)
	return tok, os.WriteFile(path, []byte(tok+"\n"), 0o600)
}

// spawn starts this binary with args (and env added to this process's) in
// its own session, detached from the terminal.
func spawn(home, logName string, env []string, args ...string) (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	logf, err := os.OpenFile(filepath.Join(home, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	c := exec.Command(self, args...)
	c.Args[0] = os.Args[0] // keep argv[0]: multi-call test binaries dispatch on it
	c.Stdout, c.Stderr = logf, logf
	if len(env) > 0 {
		c.Env = append(os.Environ(), env...)
	}
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		return 0, fmt.Errorf("start belay %s: %w", args[0], err)
	}
	go c.Wait() //nolint:errcheck // reaped so it never lingers as a zombie while up waits
	return c.Process.Pid, nil
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool { return supervise.Alive(pid) }

// serverAnswers reports whether the server of a ready-file answers
// /healthz, over https trusting the certificate the ready-file names.
func serverAnswers(ctx context.Context, r api.Ready) bool {
	if r.Server == "" {
		return false
	}
	c, err := newAPIClient(r.Server, "", r.Cert)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
