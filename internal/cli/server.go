package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/belay-dev/belay/internal/api"
	"github.com/belay-dev/belay/internal/audit"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/belay-dev/belay/internal/analysis/builtin"
	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/event"
	"github.com/belay-dev/belay/internal/pidlock"
	"github.com/belay-dev/belay/internal/release"
	"github.com/belay-dev/belay/internal/secret"
	"github.com/belay-dev/belay/internal/server"
	"github.com/belay-dev/belay/internal/slo"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newServerCmd) }

// ServerConfig is `belay server`'s configuration.
type ServerConfig struct {
	File string
	apiListen
	AgentSocket string
	ReadyFile   string
	Tick        time.Duration
	// SLOSampleEvery is how often the builtin SLO source samples the
	// agent's counters (docs/slo.md).
	SLOSampleEvery time.Duration
	// DriftInterval is how often the server checks the infrastructure for
	// drift (docs/infrastructure.md); 0 never.
	DriftInterval time.Duration
}

// Validate checks the configuration before anything starts.
func (c ServerConfig) Validate() error {
	if _, err := os.Stat(c.File); err != nil {
		return fmt.Errorf("project file: %w (pass -f belay.yaml)", err)
	}
	if c.Tick < 10*time.Millisecond {
		return fmt.Errorf("--tick %s is too short: use at least 10ms", c.Tick)
	}
	if c.SLOSampleEvery != 0 && (c.SLOSampleEvery < 100*time.Millisecond || c.SLOSampleEvery > time.Minute) {
		return fmt.Errorf("--slo-sample-every %s: use between 100ms and 1m (samples are kept per minute)", c.SLOSampleEvery)
	}
	if c.DriftInterval != 0 && c.DriftInterval < 100*time.Millisecond {
		return fmt.Errorf("--drift-interval %s is too short: use at least 100ms, or 0 to check drift only on demand", c.DriftInterval)
	}
	return c.check()
}

func newServerCmd(g *Globals) *cobra.Command {
	c := ServerConfig{File: "belay.yaml"}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: API, rollout engine and analysis",
		Long: "belay server serves the API under /api/v1 and runs the rollout engine, which resumes every\n" +
			"unfinished rollout at start. It drives the belay agent on --agent. `belay up` starts both.\n" +
			"Off loopback it serves the API over TLS only: --tls-cert and --tls-key, or --tls-self-signed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.Validate(); err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServer(ctx, g, c, log, func(r api.Ready) {
				_ = g.emit(cmd.OutOrStdout(), r, func(w io.Writer) error {
					_, err := fmt.Fprintf(w, "server: API on %s\n", r.Server)
					return err
				})
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&c.File, "file", "f", c.File, "the project's belay.yaml")
	c.addFlags(fl, envOr("BELAY_LISTEN", defaultListen), "API address; other than loopback, only with TLS (env BELAY_LISTEN)")
	fl.StringVar(&c.AgentSocket, "agent", os.Getenv("BELAY_AGENT_SOCKET"), "the agent's unix socket (default <home>/agent/agent.sock)")
	fl.StringVar(&c.ReadyFile, "ready-file", "", "write the bound addresses here once listening (default <home>/ready.json)")
	fl.DurationVar(&c.DriftInterval, "drift-interval", envDuration("BELAY_DRIFT_INTERVAL", 10*time.Minute), "how often to check the service stack's resources for drift; 0 never (env BELAY_DRIFT_INTERVAL)")
	fl.DurationVar(&c.SLOSampleEvery, "slo-sample-every", envDuration("BELAY_SLO_SAMPLE_EVERY", slo.DefaultSampleEvery), "how often the builtin SLO source samples the agent's counters (env BELAY_SLO_SAMPLE_EVERY)")
	fl.DurationVar(&c.Tick, "tick", server.DefaultTick, "how often the engine looks at every rollout (and judges canaries on the builtin source; Prometheus is read at most once a second)")
	return cmd
}

// runServer wires the server's parts by name and serves until ctx ends.
func runServer(ctx context.Context, g *Globals, c ServerConfig, log *slog.Logger, ready func(api.Ready)) error {
	home, err := filepath.Abs(g.HomeDir(c.File))
	if err != nil {
		return err
	}
	// One server per home: two engines on one store would act twice.
	lock, err := pidlock.Acquire(serverLock(home), "belay server for home "+home)
	if err != nil {
		return err
	}
	defer lock.Release()
	if c.AgentSocket == "" {
		_, c.AgentSocket = agentPaths(&Globals{Home: home}, "", "")
	}
	if c.ReadyFile == "" {
		c.ReadyFile = api.ReadyFile(home)
	}
	tlsConf, certFile, err := c.serverTLS(home, log)
	if err != nil {
		return err
	}
	p, err := spec.Load(c.File)
	if err != nil {
		return err
	}
	st, err := g.OpenStore(ctx, c.File, log)
	if err != nil {
		return err
	}
	defer st.Close()
	arts, err := openArtifacts(g, c.File, p)
	if err != nil {
		return err
	}
	// The server's own key for audit checkpoints, never an artifact signing key.
	auditKey, err := audit.LoadKey(home)
	if err != nil {
		return err
	}
	secrets := &secret.Store{Keys: secret.Keyring{Dir: filepath.Join(home, "secrets")}, ProjectFile: c.File, Redactor: &secret.Redactor{}}
	for _, env := range p.EnvironmentNames() { // known values are redacted from the start
		if _, err := secrets.Read(env); err != nil {
			log.Warn("secrets", "environment", env, "err", err)
		}
	}
	tgt, err := serverTarget(p, c.File, c.AgentSocket, arts.store)
	if err != nil {
		return err
	}
	sloReaders := (&server.SLOReaders{Samples: st, Now: time.Now}).For
	srv, err := server.New(server.Deps{
		Store: st, Target: tgt, Artifacts: arts, ProjectFile: c.File, Tick: c.Tick, Logger: log,
		Judge: server.NewJudge(server.JudgeDeps{
			Source:  (&server.Sources{Builtin: builtin.New(tgt)}).For,
			Project: func() (*spec.Project, error) { return spec.Load(c.File) },
			Now:     time.Now, States: st, Samples: st, Logger: log, SLO: sloReaders,
		}),
		SLO: sloReaders, SLOSampleEvery: c.SLOSampleEvery, DriftInterval: c.DriftInterval,
		Events:    event.NewFile(filepath.Join(home, "events.jsonl")),
		TokenFile: api.TokenFile(home),
		AuditKey:  auditKey,
		Secrets:   secrets,
		TLS:       tlsConf,
		Holder:    leaseHolder(home),
	})
	if err != nil {
		return err
	}
	if err := srv.FirstAdmin(ctx, api.TokenFile(home)); err != nil {
		return fmt.Errorf("server: the first admin token: %w", err)
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w (choose another with --listen)", c.Listen, err)
	}
	abs, _ := filepath.Abs(c.File)
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	r := api.Ready{Server: apiURL(scheme, ln.Addr()), Cert: certFile, ServerPID: os.Getpid(), AgentSocket: c.AgentSocket, Home: home, Project: abs}
	if err := api.WriteReady(c.ReadyFile, r); err != nil {
		ln.Close()
		return err
	}
	ready(r)
	log.Info("server ready", "api", r.Server, "listen", ln.Addr().String(), "agent", c.AgentSocket, "home", home)
	return srv.Serve(ctx, ln)
}

// artifactStore verifies and opens artifacts for the server.
type artifactStore struct {
	store   artifact.Store
	trusted []artifact.PublicKey
	opener  artifact.DirOpener
}

var _ server.Artifacts = artifactStore{}

func openArtifacts(g *Globals, file string, p *spec.Project) (artifactStore, error) {
	f := &artifactFlags{file: file}
	s, err := f.openStore(g, p)
	if err != nil {
		return artifactStore{}, err
	}
	keys, _, err := f.trustedKeys(g, p)
	if err != nil {
		return artifactStore{}, err
	}
	cache := filepath.Join(g.HomeDir(file), "unpacked")
	return artifactStore{store: s, trusted: keys, opener: artifact.DirOpener{Store: s, Options: artifact.OpenOptions{Trusted: keys, CacheDir: cache}}}, nil
}

func (a artifactStore) Verify(ctx context.Context, version string) (string, error) {
	rep, err := artifact.Verify(ctx, a.store, version, a.trusted)
	if errors.Is(err, artifact.ErrNotFound) {
		return "", fmt.Errorf("%w: %w", release.ErrNoArtifact, err)
	}
	if err != nil {
		return "", err
	}
	return rep.Digest, nil
}

func (a artifactStore) Refs(ctx context.Context, ref string) ([]string, error) {
	rep, err := artifact.Verify(ctx, a.store, ref, a.trusted)
	if errors.Is(err, artifact.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", release.ErrNoArtifact, err)
	}
	if err != nil {
		return nil, err
	}
	return rep.Refs, nil
}

func (a artifactStore) Open(ctx context.Context, ref string) (string, error) {
	return a.opener.Open(ctx, ref)
}

// leaseHolder names the home's server in the store's leases: the same
// after a restart (one server per home: serverLock), another for a server
// of another home or host on the same database.
func leaseHolder(home string) string {
	host, _ := os.Hostname()
	if abs, err := filepath.Abs(home); err == nil {
		home = abs
	}
	return host + ":" + home + ":" + serverID(home)
}

// serverID is a random name kept in <home>/server.id, made once: two
// containers with the same hostname and home path are two lease holders.
// Without a writable home it is "": host and home alone name the server.
func serverID(home string) string {
	path := filepath.Join(home, "server.id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b))
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(id+"\n"), 0o644); err != nil {
		return ""
	}
	return id
}

// serverLock is the lock a home's server holds for its life.
func serverLock(home string) string { return filepath.Join(home, "server.lock") }

// envDuration is k's duration, or def when k is unset or not a duration
// (Validate then judges the flag's value).
func envDuration(k string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(k)); err == nil {
		return d
	}
	return def
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
