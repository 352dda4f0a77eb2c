package spec

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/belay-dev/belay/internal/event"
)

// Events are the sinks belay's server sends events to, besides the
// JSON-lines file it always writes (docs/events.md). Keys and tokens are
// never written here: a sink names the server's environment variable that
// holds one (secret_env, token_env), read when the server starts.
type Events struct {
	Webhooks []*WebhookSink  `yaml:"webhooks" json:"webhooks,omitempty"`
	CDEvents []*CDEventsSink `yaml:"cdevents" json:"cdevents,omitempty"`
	Grafana  []*GrafanaSink  `yaml:"grafana" json:"grafana,omitempty"`
}

// WebhookSink POSTs every event (or those listed in events) as JSON,
// signed with HMAC-SHA256 as Standard Webhooks sign.
type WebhookSink struct {
	Name string `yaml:"name" json:"name" belay:"required"`
	URL  string `yaml:"url" json:"url" belay:"required"`
	// SecretEnv names the environment variable holding the signing key.
	SecretEnv string   `yaml:"secret_env" json:"secret_env" belay:"required"`
	Events    []string `yaml:"events" json:"events,omitempty"`
	// Timeout bounds one request (default 10s); GiveUpAfter is how old a
	// failing event may grow before it is given up (default 1h).
	Timeout     Duration `yaml:"timeout" json:"timeout,omitempty"`
	GiveUpAfter Duration `yaml:"give_up_after" json:"give_up_after,omitempty"`
}

// CDEventsSink POSTs CDEvents as CloudEvents.
type CDEventsSink struct {
	Name string `yaml:"name" json:"name" belay:"required"`
	URL  string `yaml:"url" json:"url" belay:"required"`
	// Source is the CDEvents source, a URI reference; default /belay/<project>.
	Source string `yaml:"source" json:"source,omitempty"`
	// TokenEnv optionally names the variable holding a bearer token.
	TokenEnv string `yaml:"token_env" json:"token_env,omitempty"`
	// Timeout bounds one request (default 10s); GiveUpAfter is how old a
	// failing event may grow before it is given up (default 1h).
	Timeout     Duration `yaml:"timeout" json:"timeout,omitempty"`
	GiveUpAfter Duration `yaml:"give_up_after" json:"give_up_after,omitempty"`
}

// GrafanaSink posts deployment markers as Grafana annotations.
type GrafanaSink struct {
	Name string `yaml:"name" json:"name" belay:"required"`
	// URL is Grafana's base URL, e.g. http://grafana:3000.
	URL string `yaml:"url" json:"url" belay:"required"`
	// TokenEnv names the variable holding a service account token.
	TokenEnv string `yaml:"token_env" json:"token_env" belay:"required"`
	// Timeout bounds one request (default 10s); GiveUpAfter is how old a
	// failing event may grow before it is given up (default 1h).
	Timeout     Duration `yaml:"timeout" json:"timeout,omitempty"`
	GiveUpAfter Duration `yaml:"give_up_after" json:"give_up_after,omitempty"`
}

// envName is an environment variable's name as a shell spells it.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkEvents validates the sinks: unique names, http(s) URLs without
// credentials, event types that exist, and key variables that are names,
// not keys.
func (d *decoder) checkEvents(ev *Events) {
	if ev == nil {
		return
	}
	seen := map[string]string{}
	sink := func(path, name, rawURL string, timeout, giveUp Duration) {
		if err := checkName("sink", name); err != nil && name != "" {
			d.errAt(path+".name", "%v", err)
		} else if first, dup := seen[name]; dup {
			d.errAt(path+".name", "sink name %q is used twice (first at %s): the name keys each sink's place in the event log", name, first)
		} else if name != "" {
			seen[name] = path
		}
		d.checkSinkURL(path+".url", rawURL)
		if d.set(path+".timeout") && timeout <= 0 {
			d.errAt(path+".timeout", "timeout must be positive, e.g. 10s")
		}
		if d.set(path+".give_up_after") && giveUp <= 0 {
			d.errAt(path+".give_up_after", "give_up_after must be positive, e.g. 1h")
		}
	}
	for i, w := range ev.Webhooks {
		if w == nil {
			continue
		}
		path := index("events.webhooks", i)
		sink(path, w.Name, w.URL, w.Timeout, w.GiveUpAfter)
		d.checkSecretEnv(path+".secret_env", w.SecretEnv)
		for j, t := range w.Events {
			if !slices.Contains(event.Types, t) {
				d.errAt(index(path+".events", j), "unknown event type %q%s; types: %s", t, suggest(t, event.Types), strings.Join(event.Types, ", "))
			}
		}
	}
	for i, c := range ev.CDEvents {
		if c == nil {
			continue
		}
		path := index("events.cdevents", i)
		sink(path, c.Name, c.URL, c.Timeout, c.GiveUpAfter)
		d.checkSecretEnv(path+".token_env", c.TokenEnv)
		if _, err := url.Parse(c.Source); c.Source != "" && (err != nil || strings.ContainsAny(c.Source, " \t")) {
			d.errAt(path+".source", "source %q is not a URI reference such as /belay/shop", c.Source)
		}
	}
	for i, g := range ev.Grafana {
		if g == nil {
			continue
		}
		path := index("events.grafana", i)
		sink(path, g.Name, g.URL, g.Timeout, g.GiveUpAfter)
		d.checkSecretEnv(path+".token_env", g.TokenEnv)
	}
}

func (d *decoder) checkSinkURL(path, raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		d.errAt(path, "%q is not an http:// or https:// URL", raw)
	case u.User != nil:
		d.errAt(path, "the URL carries credentials: belay.yaml is committed; give the key in secret_env or token_env instead")
	}
}

// checkSecretEnv refuses a key written where the name of its variable goes.
func (d *decoder) checkSecretEnv(path, name string) {
	switch {
	case name == "":
	case plaintextSecret("", name) != "" || strings.HasPrefix(name, "whsec_") || !envName.MatchString(name):
		d.errAt(path, "%s names the server's environment variable that holds the key (e.g. BELAY_WEBHOOK_KEY), not the key: belay.yaml is committed, so never write a key in it", lastField(path))
	}
}

func lastField(path string) string { return path[strings.LastIndex(path, ".")+1:] }
