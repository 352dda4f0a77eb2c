package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/belay-dev/belay/internal/api"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newUpCmd, newDownCmd) }

func newUpCmd(g *Globals) *cobra.Command {
	var file, agentAPI string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the belay server and agent on this host (idempotent)",
		Long: "up starts `belay server` and `belay agent` in the background with state in the home directory and\n" +
			"writes their addresses to <home>/ready.json. When they already run, it says so and changes nothing.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := filepath.Abs(g.HomeDir(file))
			if err != nil {
				return err
			}
			r, err := up(cmd.Context(), g, home, file, agentAPI, wait)
			if err != nil {
				return err
			}
			return g.emit(cmd.OutOrStdout(), r, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "belay is up\n  server  %s (pid %d)\n  agent   %s (pid %d)\n  home    %s\n", r.Server, r.ServerPID, r.AgentSocket, r.AgentPID, r.Home)
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "belay.yaml", "project file the server serves")
	cmd.Flags().DurationVar(&wait, "wait", 30*time.Second, "how long to wait for server and agent to be ready")
	cmd.Flags().StringVar(&agentAPI, "agent-api", "", "also serve the agent's API on this loopback address, e.g. 127.0.0.1:7070,\n"+
		"for Prometheus to scrape /metrics (open; the rest needs the token generated into <home>/agent.token);\n"+
		"an agent already up keeps its listeners")
	return cmd
}

// up starts the daemons unless the ready-file names live ones.
func up(ctx context.Context, g *Globals, home, file, agentAPI string, wait time.Duration) (api.Ready, error) {
	readyPath := api.ReadyFile(home)
	if r, err := api.ReadReady(readyPath); err == nil && alive(r.ServerPID) && alive(r.AgentPID) && serverAnswers(ctx, r.Server) {
		return r, nil
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return api.Ready{}, err
	}
	if _, err := os.Stat(abs); err != nil {
		return api.Ready{}, fmt.Errorf("project file %s: %w (run `belay init` to write one, or pass -f)", file, err)
	}
	if err := os.MkdirAll(home, 0o755); err != nil {
		return api.Ready{}, err
	}
	os.Remove(readyPath)
	state, sock := agentPaths(&Globals{Home: home}, "", "") // where `belay logs` looks too
	agentArgs := []string{"agent", "--home", home, "-f", abs, "--state", state, "--socket", sock, "--stop-on-exit"}
	var agentEnv []string
	if agentAPI != "" {
		tok, err := agentToken(home)
		if err != nil {
			return api.Ready{}, err
		}
		agentArgs, agentEnv = append(agentArgs, "--listen-api", agentAPI), []string{"BELAY_AGENT_TOKEN=" + tok}
	}
	agentPID, err := spawn(home, "agent.log", agentEnv, agentArgs...)
	if err != nil {
		return api.Ready{}, err
	}
	serverPID, err := spawn(home, "server.log", nil, "server", "--home", home, "-f", abs, "--agent", sock, "--ready-file", readyPath, "--state", g.State)
	if err != nil {
		return api.Ready{}, err
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if r, err := api.ReadReady(readyPath); err == nil && serverAnswers(ctx, r.Server) {
			r.AgentPID = agentPID
			r.AgentSocket = sock
			return r, api.WriteReady(readyPath, r)
		}
		if !alive(serverPID) {
			return api.Ready{}, fmt.Errorf("belay server exited during start-up; see %s", filepath.Join(home, "server.log"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return api.Ready{}, fmt.Errorf("belay server not ready after %s; see %s", wait, filepath.Join(home, "server.log"))
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

func alive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

func serverAnswers(ctx context.Context, base string) bool {
	if base == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func newDownCmd(g *Globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the belay server and agent started by `belay up`",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home := g.HomeDir(file)
			r, err := api.ReadReady(api.ReadyFile(home))
			if errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(cmd.OutOrStdout(), "belay is not running (no %s)\n", api.ReadyFile(home))
				return nil
			} else if err != nil {
				return err
			}
			for _, p := range []struct {
				name string
				pid  int
			}{{"server", r.ServerPID}, {"agent", r.AgentPID}} {
				if err := stop(p.pid, 15*time.Second); err != nil {
					return fmt.Errorf("stop %s (pid %d): %w", p.name, p.pid, err)
				}
			}
			os.Remove(api.ReadyFile(home))
			fmt.Fprintln(cmd.OutOrStdout(), "belay is down")
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "belay.yaml", "project file (its directory holds the default home)")
	return cmd
}

// stop sends SIGTERM and waits; SIGKILL after grace.
func stop(pid int, grace time.Duration) error {
	if !alive(pid) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return syscall.Kill(pid, syscall.SIGKILL)
}
