package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/belay-dev/belay/internal/agent"
	"github.com/belay-dev/belay/internal/agent/keeper"
	"github.com/belay-dev/belay/internal/agent/proxy"
	"github.com/belay-dev/belay/internal/apitls"
	"github.com/belay-dev/belay/internal/pidlock"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newAgentCmd) }

// agentPaths resolves the agent's state directory and socket from flags,
// BELAY_AGENT_* variables and the home directory.
func agentPaths(g *Globals, state, socket string) (string, string) {
	if state == "" {
		state = os.Getenv("BELAY_AGENT_STATE")
	}
	if state == "" {
		state = filepath.Join(g.HomeDir(""), "agent")
	}
	if socket == "" {
		socket = os.Getenv("BELAY_AGENT_SOCKET")
	}
	if socket == "" {
		socket = filepath.Join(state, "agent.sock")
	}
	return state, socket
}

// agentConfig is `belay agent`'s configuration.
type agentConfig struct {
	state, socket, listenAPI, token, file string
	tlsCert, tlsKey                       string
	stopOnExit, keeper, upgrade, selfSign bool
	wait                                  time.Duration
}

// Validate checks what a child would otherwise fail on over and over.
func (c agentConfig) Validate() error {
	switch {
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return usageError{errors.New("--tls-cert and --tls-key go together: pass both, or --tls-self-signed for a certificate belay makes")}
	case c.selfSign && c.tlsCert != "":
		return usageError{errors.New("--tls-self-signed and --tls-cert are two certificates for one API: pass one")}
	case c.listenAPI == "" && (c.selfSign || c.tlsCert != ""):
		return usageError{errors.New("--tls-cert, --tls-key and --tls-self-signed are for the TCP API: pass --listen-api too")}
	}
	if c.listenAPI != "" {
		if err := agent.CheckAPIAddress(c.listenAPI, c.token, c.selfSign || c.tlsCert != ""); err != nil {
			return usageError{err}
		}
		if c.tlsCert != "" {
			if _, err := apitls.ServerConfig(c.tlsCert, c.tlsKey); err != nil {
				return err
			}
		}
	}
	return nil
}

// apiTLS is the TLS configuration of the TCP API (nil: plain HTTP, on
// loopback only) and the certificate file it presents, which the server
// pins as the host's ca_file.
func (c agentConfig) apiTLS(log *slog.Logger) (*tls.Config, string, error) {
	cert, key := c.tlsCert, c.tlsKey
	if c.selfSign {
		host, _, _ := net.SplitHostPort(c.listenAPI)
		var err error
		if cert, key, err = apitls.SelfSigned(c.state, host, time.Now(), log); err != nil {
			return nil, "", err
		}
	}
	if cert == "" {
		return nil, "", nil
	}
	conf, err := apitls.ServerConfig(cert, key)
	if err != nil {
		return nil, "", err
	}
	abs, err := filepath.Abs(cert)
	return conf, abs, err
}

func newAgentCmd(g *Globals) *cobra.Command {
	var c agentConfig
	cmd := &cobra.Command{
		Use:   "agent [--upgrade]",
		Short: "Run the data plane on this host: supervise service processes and route traffic between versions",
		Long: "belay agent runs services' versions as supervised processes and splits each service's traffic between\n" +
			"them through a measuring reverse proxy. Its desired state is kept in --state; after a restart (even\n" +
			"after kill -9) it restores routing and adopts the instances that kept running.\n\n" +
			"The process you start is a small keeper: it holds every listening socket (<socket>.lock makes it one\n" +
			"per socket) and runs the agent as its child, passing the sockets on. When the child dies the keeper\n" +
			"starts another at once and the kernel queues connections meanwhile, so none is refused. SIGHUP, or\n" +
			"`belay agent --upgrade`, starts the binary again as a new child and, once it serves, lets the old one\n" +
			"finish its requests and exit: an upgrade without a failed request. On SIGINT/SIGTERM it stops routing\n" +
			"and, with --stop-on-exit, every instance; SIGUSR2 stops it leaving the instances running.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c.state, c.socket = agentPaths(g, c.state, c.socket)
			if c.token == "" {
				c.token = os.Getenv("BELAY_AGENT_TOKEN")
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
			if c.upgrade {
				return upgradeAgent(cmd, g, c)
			}
			if err := c.Validate(); err != nil {
				return err
			}
			kc, err := keeper.FromEnv()
			if err != nil {
				return err
			}
			switch {
			case kc != nil:
				defer kc.Close()
				return runAgent(cmd, g, c, log, kc)
			case !c.keeper:
				lock, err := pidlock.Acquire(agentLock(c.socket), "belay agent on socket "+c.socket)
				if err != nil {
					return err
				}
				defer lock.Release()
				return runAgent(cmd, g, c, log, nil)
			}
			return runKeeper(cmd, g, c, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.state, "state", "", "directory for the agent's desired state, pid files and logs (env BELAY_AGENT_STATE; default HOME/agent)")
	f.StringVar(&c.socket, "socket", "", "unix socket for the agent API (env BELAY_AGENT_SOCKET; default STATE/agent.sock)")
	f.StringVar(&c.listenAPI, "listen-api", "", "also serve the API on this TCP address (needs --token): loopback such as 127.0.0.1:7070, "+
		"or one other hosts reach such as 0.0.0.0:7070 with --tls-cert/--tls-key or --tls-self-signed")
	f.StringVar(&c.token, "token", "", "bearer token for --listen-api (env BELAY_AGENT_TOKEN)")
	f.StringVar(&c.tlsCert, "tls-cert", "", "serve --listen-api over TLS with this PEM certificate (and its chain); needs --tls-key")
	f.StringVar(&c.tlsKey, "tls-key", "", "the PEM private key of --tls-cert")
	f.BoolVar(&c.selfSign, "tls-self-signed", false, "serve --listen-api over TLS with a self-signed certificate made once as STATE/api.crt "+
		"(remade when it expires), which the server pins as the host's ca_file")
	f.StringVarP(&c.file, "file", "f", "", "project belay.yaml whose artifact store and trusted keys verify what the agent runs (default ./belay.yaml when present)")
	f.BoolVar(&c.stopOnExit, "stop-on-exit", false, "stop every service instance when the agent is stopped (SIGINT/SIGTERM)")
	f.BoolVar(&c.keeper, "keeper", true, "hold the sockets in a keeper process that restarts the agent; --keeper=false runs the agent alone (a crash then refuses traffic until it is started again)")
	f.BoolVar(&c.upgrade, "upgrade", false, "do not start an agent: have the one on --socket start this binary anew and hand over to it without failing a request")
	f.DurationVar(&c.wait, "wait", time.Minute, "with --upgrade: how long to wait for the new agent to serve")
	return cmd
}

// runKeeper holds the agent's lock and sockets and runs the agent as its
// child until a stop signal.
func runKeeper(cmd *cobra.Command, g *Globals, c agentConfig, log *slog.Logger) error {
	lock, err := pidlock.Acquire(agentLock(c.socket), "belay agent on socket "+c.socket)
	if err != nil {
		return err
	}
	defer lock.Release()
	if _, err := newAgentOpener(g, projectFileFor(c.file)); err != nil {
		return err // the child would fail on it again and again
	}
	sup := &keeper.Supervisor{
		Args:         os.Args, // the same command line; the child finds BELAY_KEEPER_FD
		Stdout:       cmd.OutOrStdout(),
		Stderr:       cmd.ErrOrStderr(),
		Log:          log,
		ChildPIDFile: childPIDFile(c.state),
	}
	return sup.Run(cmd.Context())
}

// runAgent runs the agent itself, on sockets from its keeper (kc) or bound
// here, until a signal: SIGINT/SIGTERM stop it, SIGUSR1 (a successor took
// the sockets, or the keeper died) and SIGUSR2 hand over, leaving the
// instances running.
func runAgent(cmd *cobra.Command, g *Globals, c agentConfig, log *slog.Logger, kc *keeper.Client) error {
	debug.SetGCPercent(proxy.GCPercent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2) // before Ready: SIGUSR1 kills by default
	defer signal.Stop(sigs)
	opener, err := newAgentOpener(g, projectFileFor(c.file))
	if err != nil {
		return err
	}
	cfg := agent.Config{StateDir: c.state, Opener: opener, Log: log}
	if kc != nil {
		cfg.Sockets = kc
	}
	a, err := agent.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	if err := a.Restore(ctx); err != nil {
		return err
	}
	if err := serveAgentAPI(ctx, g, cmd.OutOrStdout(), a, c); err != nil {
		a.Close(false)
		return err
	}
	if kc != nil {
		if err := kc.Ready(); err != nil {
			log.Warn("tell the keeper we serve", "err", err)
		}
	}
	var sig os.Signal
	select {
	case sig = <-sigs:
	case <-cmd.Context().Done():
	}
	handOver := sig == syscall.SIGUSR1 || sig == syscall.SIGUSR2
	log.Info("agent stopping", "signal", fmt.Sprint(sig), "stop_instances", c.stopOnExit && !handOver)
	cancel()
	a.Close(c.stopOnExit && !handOver)
	if kc == nil {
		_ = os.Remove(c.socket)
	}
	return nil
}

func serveAgentAPI(ctx context.Context, g *Globals, out io.Writer, a *agent.Agent, c agentConfig) error {
	if _, err := a.ServeUnix(ctx, c.socket); err != nil {
		return err
	}
	r := struct {
		Socket string `json:"socket"`
		API    string `json:"api,omitempty"`  // with --listen-api
		Cert   string `json:"cert,omitempty"` // with TLS: the certificate clients pin
		State  string `json:"state"`
		PID    int    `json:"pid"`
	}{Socket: c.socket, State: c.state, PID: os.Getpid()}
	if c.listenAPI != "" {
		conf, cert, err := c.apiTLS(slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			return err
		}
		l, err := a.ServeTCP(ctx, c.listenAPI, c.token, conf)
		if err != nil {
			return err
		}
		r.API, r.Cert = "http://"+l.Addr().String(), cert
		if conf != nil {
			r.API = "https://" + l.Addr().String()
		}
	}
	return g.emit(out, r, func(w io.Writer) error {
		fmt.Fprintf(w, "agent: API on unix socket %s, state in %s (pid %d)\n", r.Socket, r.State, r.PID)
		if r.API != "" {
			fmt.Fprintf(w, "agent: API on %s (bearer token required; /metrics open)\n", r.API)
			if r.Cert != "" {
				fmt.Fprintf(w, "agent: TLS certificate %s (copy it to the server as this host's ca_file)\n", r.Cert)
			}
		}
		return nil
	})
}

// upgradeAgent has the keeper on c.socket start a new agent child and
// waits until it has replaced the old one.
func upgradeAgent(cmd *cobra.Command, g *Globals, c agentConfig) error {
	pid, err := pidlock.Holder(agentLock(c.socket))
	if err != nil {
		return err
	}
	if pid == 0 {
		return fmt.Errorf("no belay agent runs on socket %s: start one with `belay up` (or `belay agent`)", c.socket)
	}
	old := agentChild(c.state)
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("signal the agent (pid %d): %w", pid, err)
	}
	deadline := time.Now().Add(c.wait)
	for time.Now().Before(deadline) {
		if now := agentChild(c.state); now != 0 && now != old {
			r := struct {
				Agent    int `json:"agent_pid"`
				OldChild int `json:"old_child_pid"`
				NewChild int `json:"new_child_pid"`
			}{pid, old, now}
			return g.emit(cmd.OutOrStdout(), r, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "agent upgraded: child pid %d handed over to pid %d (keeper pid %d)\n", old, now, pid)
				return err
			})
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("the agent (pid %d) did not hand over to a new child within %s; the old one keeps serving: see the agent's log", pid, c.wait)
}
