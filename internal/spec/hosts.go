package spec

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
)

// Host is one host of an environment spread over several: it runs `belay
// agent --listen-api ADDR --tls-… --token …`, and the server drives every
// host's agent to the same desired state. The token is never written here:
// TokenEnv names the server's environment variable that holds it.
type Host struct {
	Name string `yaml:"name" json:"name" belay:"required"`
	// API is the agent's TCP API, host:port (its --listen-api as reached
	// from the server).
	API string `yaml:"api" json:"api" belay:"required"`
	// TokenEnv names the environment variable holding the agent's --token.
	TokenEnv string `yaml:"token_env" json:"token_env" belay:"required"`
	// CAFile is the agent's certificate (its STATE/api.crt with
	// --tls-self-signed: pinned) or the CA that signed it, relative to
	// belay.yaml's directory.
	CAFile string `yaml:"ca_file" json:"ca_file" belay:"required"`
}

var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkHosts checks an environment's hosts: names unique DNS labels, API
// addresses host:port, token variables valid names.
func (d *decoder) checkHosts(path string, e *Environment) {
	seen := map[string]int{}
	apis := map[string]int{}
	if _, set := d.pos[path+".hosts"]; set && len(e.Hosts) == 0 && !d.hasErrUnder(path+".hosts") {
		d.errAt(path+".hosts", "hosts is empty: list the hosts running `belay agent`, or remove hosts to run on the local agent")
	}
	for i, h := range e.Hosts {
		hp := index(path+".hosts", i)
		if h == nil {
			d.errAt(hp, "empty host: give name, api, token_env and ca_file")
			continue
		}
		if h.Name != "" {
			if err := checkName("host", h.Name); err != nil {
				d.errAt(hp+".name", "%v", err)
			} else if j, dup := seen[h.Name]; dup {
				d.errAt(hp+".name", "duplicate host %q (first at hosts[%d]); host names must be unique in an environment", h.Name, j)
			} else {
				seen[h.Name] = i
			}
		}
		if h.API != "" {
			if err := checkAPI(h.API); err != nil {
				d.errAt(hp+".api", "%v", err)
			} else if j, dup := apis[h.API]; dup {
				d.errAt(hp+".api", "host %q has the api of hosts[%d]: each host runs its own agent", h.Name, j)
			} else {
				apis[h.API] = i
			}
		}
		if h.TokenEnv != "" && !envVarName.MatchString(h.TokenEnv) {
			d.errAt(hp+".token_env", "token_env %q is not an environment variable name: it names the variable holding the agent's token (e.g. BELAY_AGENT_TOKEN_WEB1), never the token itself", h.TokenEnv)
		}
	}
}

func checkAPI(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("api %q is not host:port of the agent's --listen-api, e.g. 10.0.0.11:7070", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("api %q needs a port between 1 and 65535", s)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("api %q: %s is every address of the agent's host; give the one the server reaches it at", s, host)
	}
	return nil
}
