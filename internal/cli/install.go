package cli

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"text/template"
)

// systemd units for hosts where belay runs for real: the init system, not
// `belay up`, restarts server and agent, and starts them at boot.
var unitTemplate = template.Must(template.New("unit").Parse(`# Written by ` + "`belay up --install`" + ` for {{.Project}}.
[Unit]
Description={{.Description}}
Documentation=https://github.com/belay-dev/belay/blob/main/docs/agent.md
After=network-online.target{{range .After}} {{.}}{{end}}
Wants=network-online.target{{range .After}} {{.}}{{end}}

[Service]
Type=simple
User={{.User}}
WorkingDirectory={{.Dir}}
ExecStart={{.Exec}}
Restart=always
RestartSec=1s
{{- range .Extra}}
{{.}}
{{- end}}

[Install]
WantedBy=multi-user.target
`))

type unit struct {
	Name, Description, Project, Dir, User, Exec string
	After, Extra                                []string
}

// installUnits writes belay-agent.service and belay-server.service into dir
// (the server's with serverArgs, how its API listens) and returns their paths.
func installUnits(g *Globals, dir, project, home, bin string, serverArgs []string) ([]string, error) {
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	state, sock := agentPaths(&Globals{Home: home}, "", "")
	server := []string{bin, "server", "--home", home, "-f", project, "--agent", sock}
	if g.State != "" {
		server = append(server, "--state", g.State)
	}
	server = append(server, serverArgs...)
	units := []unit{{
		Name:        "belay-agent.service",
		Description: "belay agent: runs the services' versions and splits their traffic",
		Exec:        quoteArgs(bin, "agent", "--home", home, "-f", project, "--state", state, "--socket", sock, "--stop-on-exit"),
		Extra: []string{
			"# Only the agent's keeper gets SIGTERM: it hands it to the agent, which stops the instances",
			"# (--stop-on-exit). When the agent is restarted after a crash, its instances keep running",
			"# and are adopted, so systemd must not kill the rest of the group on its own.",
			"KillMode=process",
			"TimeoutStopSec=60s",
		},
	}, {
		Name:        "belay-server.service",
		Description: "belay server: API, rollout engine and analysis",
		Exec:        quoteArgs(server...),
		After:       []string{"belay-agent.service"},
		Extra:       []string{"TimeoutStopSec=30s"},
	}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--install-dir %s: %w", dir, err)
	}
	var paths []string
	for _, un := range units {
		un.Project, un.Dir, un.User = project, filepath.Dir(project), u.Username
		var b strings.Builder
		if err := unitTemplate.Execute(&b, un); err != nil {
			return nil, err
		}
		p := filepath.Join(dir, un.Name)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w (run as root for /etc/systemd/system, or pass --install-dir)", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// quoteArgs renders a command line for ExecStart, quoting what has spaces.
func quoteArgs(args ...string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \t\"'\\") {
			a = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(a) + `"`
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
