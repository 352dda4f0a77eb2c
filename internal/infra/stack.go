// Package infra turns belay.yaml's service_stack into resources per
// environment and manages them through providers (internal/infra/provider):
// plan (what would change, field by field, stored with its hash), apply
// (only an approved plan that is still what the servers would get, under
// the environment's lock), drift (what changed on the servers since the
// last apply) and unlock. Providers live in subpackages (postgres, redis,
// nats, s3, promfiles) and in internal/backup (backup policies).
package infra

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/belay-dev/belay/internal/backup"
	"github.com/belay-dev/belay/internal/infra/nats"
	"github.com/belay-dev/belay/internal/infra/postgres"
	"github.com/belay-dev/belay/internal/infra/promfiles"
	"github.com/belay-dev/belay/internal/infra/provider"
	"github.com/belay-dev/belay/internal/infra/redis"
	"github.com/belay-dev/belay/internal/infra/s3"
	"github.com/belay-dev/belay/internal/slo"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
)

// Desired is one resource an environment's stack asks for.
type Desired struct {
	provider.Resource
	Protect bool   // never deleted without an explicit, audited override
	Policy  string // store.PolicyManage or store.PolicyObserve
	// Component is the service_stack component it belongs to (database,
	// cache): its parameters say which server it lives on.
	Component string
}

// Stack is an environment's desired resources and where their servers are.
type Stack struct {
	Environment string
	Resources   []Desired
	// Servers: component → the name of the environment secret holding the
	// administrator URL of its server.
	Servers map[string]string
	// Local: component → its parameters, for components whose provider
	// works on files the server reaches (monitoring, backups), not a server
	// behind a secret; a disabled one keeps its dir (and reload_url), so
	// that what was applied there is deleted.
	Local map[string]map[string]string
}

// Component kinds belay provisions, and the parameters each takes.
var componentKinds = map[string]map[string][]string{
	"database": {
		"managed_postgres": {"admin_url_secret", "connection_limit", "app_connection_limit", "extensions", "management"},
		"postgres":         {"admin_url_secret", "connection_limit", "app_connection_limit", "extensions", "management"},
	},
	"cache": {
		"redis": {"admin_url_secret", "password_secret", "commands", "management"},
	},
	// managed_queue (the case study's value) is NATS JetStream.
	"queue": {
		"nats":          {"admin_url_secret", "max_bytes", "max_age", "replicas", "management"},
		"managed_queue": {"admin_url_secret", "max_bytes", "max_age", "replicas", "management"},
	},
	// enabled (the case study's value) is an S3 bucket.
	"object_storage": {
		"s3":      {"admin_url_secret", "versioning", "management"},
		"enabled": {"admin_url_secret", "versioning", "management"},
	},
	// monitoring: enabled is the case study's value, meaning prometheus.
	"monitoring": {
		"prometheus": monitoringParams,
		"enabled":    monitoringParams,
	},
	// backups: enabled means pg_dump, of the database component's databases.
	"backups": {
		"pg_dump": backupParams,
		"enabled": backupParams,
	},
	// log_forwarding: enabled means http: the agent POSTs the instances'
	// lines to url. It provisions nothing: the orchestrator puts it into the
	// desired state each target gets (LogForwardingOf).
	"log_forwarding": {
		"http":    logParams,
		"enabled": logParams,
	},
}

// supportedKinds lists componentKinds for messages.
func supportedKinds() string {
	var out []string
	for _, c := range sortedKeys(componentKinds) {
		out = append(out, c+": "+strings.Join(sortedKeys(componentKinds[c]), " or "))
	}
	return strings.Join(out, "; ")
}

var (
	monitoringParams = []string{"dir", "reload_url", "scrape_interval", "sd_url", "sd_credentials_file", "targets", "management"}
	backupParams     = []string{"dir", "schedule", "retention", "management"}
	logParams        = []string{"url", "token_secret"}
)

// localComponents are provisioned as files in a directory the server
// reaches (their dir parameter), with no administrator URL.
var localComponents = map[string]bool{"monitoring": true, "backups": true}

// notProvisioned are components that name no server resource.
var notProvisioned = map[string]bool{"app_service": true}

// Names: the one naming template.
func dbName(svc, env string) string    { return svc + "_" + env }
func ownerRole(svc, env string) string { return svc + "_" + env + "_owner" }
func appRole(svc, env string) string   { return svc + "_" + env + "_app" }
func aclUser(svc, env string) string   { return svc + ":" + env }

// NATS stream names cannot hold '.', ' ', '*' or '>'; service and
// environment names are DNS labels, which never do.
func streamName(svc, env string) string { return svc + "_" + env }
func subjects(svc, env string) string   { return svc + "." + env + ".>" }
func bucketName(svc, env string) string { return svc + "-" + env }

// KeyPrefix is the Redis key prefix of a service in an environment.
func KeyPrefix(svc, env string) string { return svc + ":" + env + ":" }

// StackOf is the desired stack of env. secrets reads environment secrets
// (the Redis application password is kept only as its SHA-256).
func StackOf(p *spec.Project, env string, secrets func(env string, names []string) (map[string]string, error)) (*Stack, error) {
	e := p.Environment(env)
	if e == nil {
		return nil, fmt.Errorf("environment %q is not defined in belay.yaml; defined: %v", env, p.EnvironmentNames())
	}
	idx := slices.Index(p.Environments, e)
	comps := p.ServiceStack.Components()
	if len(comps) == 0 {
		return nil, fmt.Errorf("belay.yaml has no service_stack: nothing to plan")
	}
	st := &Stack{Environment: env, Servers: map[string]string{}, Local: map[string]map[string]string{}}
	params := map[string]map[string]string{}
	var errs spec.Errors
	for _, c := range sortedKeys(comps) {
		if notProvisioned[c] {
			if len(e.Stack[c]) > 0 {
				errs = append(errs, p.At(fmt.Sprintf("environments[%d].stack.%s", idx, c), "%s provisions nothing, so it takes no parameters", c))
			}
			continue
		}
		if e.Stack[c]["enabled"] == "false" { // left out of this environment (spec checks the value)
			// resources applied before it was disabled are deleted where they are
			if localComponents[c] {
				if d := e.Stack[c]["dir"]; d != "" {
					st.Local[c] = map[string]string{"dir": d, "reload_url": e.Stack[c]["reload_url"]}
				}
			} else if name := e.Stack[c]["admin_url_secret"]; name != "" {
				st.Servers[c] = name
			}
			continue
		}
		kinds, ok := componentKinds[c]
		keys, kok := kinds[comps[c]]
		keys = append(keys[:len(keys):len(keys)], "enabled")
		if !ok || !kok {
			errs = append(errs, p.At("service_stack."+c, "%q is not provisioned by belay yet (supported: %s); set it to disabled", comps[c], supportedKinds()))
			continue
		}
		ps := e.Stack[c]
		for _, k := range sortedKeys(ps) {
			if !slices.Contains(keys, k) {
				errs = append(errs, p.At(fmt.Sprintf("environments[%d].stack.%s.%s", idx, c, k), "not a parameter of %s %s; its parameters: %s", c, comps[c], strings.Join(keys, ", ")))
			}
		}
		if c == "log_forwarding" { // the agent's: nothing to plan
			if err := checkLogForwarding(p, idx, ps); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if localComponents[c] {
			if d := ps["dir"]; !filepath.IsAbs(d) {
				errs = append(errs, p.At(fmt.Sprintf("environments[%d].stack.%s.dir", idx, c), "%q: name the absolute directory, on the server's host, where belay writes the %s files", d, c))
			}
		} else if ps["admin_url_secret"] == "" {
			errs = append(errs, p.At(fmt.Sprintf("environments[%d].stack.%s.admin_url_secret", idx, c), "missing: name the %s secret holding the administrator URL of the %s server (belay secrets set NAME --env %s)", env, comps[c], env))
		}
		switch m := ps["management"]; m {
		case "", store.PolicyManage, store.PolicyObserve:
		default:
			errs = append(errs, p.At(fmt.Sprintf("environments[%d].stack.%s.management", idx, c), "%q is not manage or observe", m))
		}
		params[c] = ps
		if localComponents[c] {
			st.Local[c] = ps
		} else {
			st.Servers[c] = ps["admin_url_secret"]
		}
	}
	if _, ok := params["backups"]; ok && params["database"] == nil {
		errs = append(errs, p.At("service_stack.backups", "backups dump the database component's databases, and %s has none: enable database or disable backups", env))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	policy := func(c string) string {
		if params[c]["management"] == store.PolicyObserve {
			return store.PolicyObserve
		}
		return store.PolicyManage
	}
	limit := func(c, k, def string) (string, error) {
		v := params[c][k]
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < -1 {
			return "", p.At(fmt.Sprintf("environments[%d].stack.%s.%s", idx, c, k), "%q is not a whole number of connections (-1 for no limit)", v)
		}
		return strconv.Itoa(n), nil
	}
	var pwHash string
	if ps, ok := params["cache"]; ok {
		name := ps["password_secret"]
		if name == "" {
			return nil, p.At(fmt.Sprintf("environments[%d].stack.cache.password_secret", idx), "missing: name the %s secret holding the password of the services' Redis users", env)
		}
		vals, err := secrets(env, []string{name})
		if err != nil {
			return nil, p.At(fmt.Sprintf("environments[%d].stack.cache.password_secret", idx), "%v", err)
		}
		sum := sha256.Sum256([]byte(vals[name]))
		pwHash = hex.EncodeToString(sum[:])
	}
	for _, svc := range p.ServiceNames() {
		if ps, ok := params["database"]; ok {
			// PostgreSQL cuts identifiers at 63 bytes without a word: a longer
			// role would be created under one name and looked for under another.
			if n := ownerRole(svc, env); len(n) > 63 {
				return nil, p.At("services."+svc, "role %s would be %d bytes, and PostgreSQL keeps 63: shorten the service or environment name", n, len(n))
			}
			dbLimit, err := limit("database", "connection_limit", "-1")
			if err != nil {
				return nil, err
			}
			appLimit, err := limit("database", "app_connection_limit", "10")
			if err != nil {
				return nil, err
			}
			pol := policy("database")
			st.Resources = append(st.Resources,
				Desired{Resource: provider.Resource{Kind: postgres.KindRole, Name: ownerRole(svc, env),
					Spec: provider.Fields{"login": "false", "connection_limit": "-1"}}, Policy: pol, Component: "database"},
				Desired{Resource: provider.Resource{Kind: postgres.KindRole, Name: appRole(svc, env),
					Spec: provider.Fields{"login": "true", "connection_limit": appLimit}}, Policy: pol, Component: "database"},
				Desired{Resource: provider.Resource{Kind: postgres.KindDatabase, Name: dbName(svc, env),
					Spec: provider.Fields{"owner": ownerRole(svc, env), "connection_limit": dbLimit,
						"extensions": postgres.NormalList(ps["extensions"]), "app_role": appRole(svc, env)}},
					Protect: true, Policy: pol, Component: "database"})
		}
		if _, ok := params["queue"]; ok {
			d, err := queueStream(p, idx, params["queue"], svc, env)
			if err != nil {
				return nil, err
			}
			d.Policy = policy("queue")
			st.Resources = append(st.Resources, d)
		}
		if _, ok := params["object_storage"]; ok {
			d, err := bucket(p, idx, params["object_storage"], svc, env)
			if err != nil {
				return nil, err
			}
			d.Policy = policy("object_storage")
			st.Resources = append(st.Resources, d)
		}
		if ps, ok := params["monitoring"]; ok {
			rs, err := monitoringOf(p, idx, svc, env, ps)
			if err != nil {
				return nil, err
			}
			st.Resources = append(st.Resources, rs...)
		}
		if ps, ok := params["backups"]; ok {
			d, err := backupPolicyOf(p, idx, svc, env, ps)
			if err != nil {
				return nil, err
			}
			st.Resources = append(st.Resources, d)
		}
		if ps, ok := params["cache"]; ok {
			cmds := ps["commands"]
			if cmds == "" {
				cmds = "+@all -@dangerous"
			}
			for _, rule := range strings.Fields(cmds) {
				if !strings.HasPrefix(rule, "+") && !strings.HasPrefix(rule, "-") {
					// keys, channels, passwords and resets would undo the confinement to the key prefix
					return nil, p.At(fmt.Sprintf("environments[%d].stack.cache.commands", idx),
						"%q is not a command rule: only +command, -command, +@category and -@category (belay sets keys, channels and the password)", rule)
				}
			}
			u := aclUser(svc, env)
			st.Resources = append(st.Resources, Desired{Resource: provider.Resource{Kind: redis.KindACLUser, Name: u,
				Spec: provider.Fields{"enabled": "on", "password_sha256": pwHash, "keys": "~" + KeyPrefix(svc, env) + "*",
					"channels": "&" + KeyPrefix(svc, env) + "*", "commands": strings.Join(strings.Fields(cmds), " ")}},
				Policy: policy("cache"), Component: "cache"})
		}
	}
	return st, nil
}

// CheckStacks runs StackOf's checks (parameters known, numbers whole,
// servers named, command rules) without secrets or servers, for belay
// validate, on every environment whose stack names a server (an
// admin_url_secret): a stack naming none is descriptive (parity's sizes)
// and not provisioned by belay. An environment naming no server but
// giving log_forwarding parameters has those checked.
func CheckStacks(p *spec.Project) spec.Errors {
	if len(p.ServiceStack.Components()) == 0 {
		return nil
	}
	noSecrets := func(_ string, names []string) (map[string]string, error) {
		out := map[string]string{}
		for _, n := range names {
			out[n] = ""
		}
		return out, nil
	}
	var out spec.Errors
	for _, e := range p.Environments {
		named := false
		for _, ps := range e.Stack {
			named = named || ps["admin_url_secret"] != ""
		}
		var err error
		switch {
		case named:
			_, err = StackOf(p, e.Name, noSecrets)
		case len(e.Stack["log_forwarding"]) > 0:
			_, err = LogForwardingOf(p, e.Name)
		}
		var es spec.Errors
		var one *spec.Error
		switch {
		case err == nil:
		case errors.As(err, &es):
			out = append(out, es...)
		case errors.As(err, &one):
			out = append(out, one)
		default:
			out = append(out, p.At(fmt.Sprintf("environments[%d].stack", slices.Index(p.Environments, e)), "%v", err))
		}
	}
	return out
}

// componentOfKind is the component whose server holds a kind.
func componentOfKind(kind string) string {
	switch kind {
	case postgres.KindRole, postgres.KindDatabase:
		return "database"
	case redis.KindACLUser:
		return "cache"
	case nats.KindStream:
		return "queue"
	case s3.KindBucket:
		return "object_storage"
	case promfiles.KindScrape, promfiles.KindRules:
		return "monitoring"
	case backup.KindPolicy:
		return "backups"
	}
	return ""
}

// queueStream is a service's JetStream stream: its subjects under
// SERVICE.ENV., sizes from the parameters (no limits by default), one
// replica by default, file storage, limits retention, discard old.
func queueStream(p *spec.Project, idx int, ps map[string]string, svc, env string) (Desired, error) {
	at := func(k string) string { return fmt.Sprintf("environments[%d].stack.queue.%s", idx, k) }
	maxBytes, err := nats.NormalBytes(ps["max_bytes"])
	if err != nil {
		return Desired{}, p.At(at("max_bytes"), "%v", err)
	}
	maxAge, err := nats.NormalAge(ps["max_age"])
	if err != nil {
		return Desired{}, p.At(at("max_age"), "%v", err)
	}
	replicas := cmp.Or(ps["replicas"], "1")
	if n, err := strconv.Atoi(replicas); err != nil || n < 1 || n > 5 {
		return Desired{}, p.At(at("replicas"), "%q is not a number of replicas from 1 to 5 (more than 1 needs a clustered NATS)", replicas)
	}
	return Desired{Resource: provider.Resource{Kind: nats.KindStream, Name: streamName(svc, env), Spec: provider.Fields{
		"subjects": subjects(svc, env), "max_bytes": maxBytes, "max_age": maxAge, "replicas": replicas,
		"storage": "file", "retention": "limits", "discard": "old"}}, Component: "queue"}, nil
}

// bucket is a service's S3 bucket, versioned unless the parameters say
// suspended; buckets hold data and are protected.
func bucket(p *spec.Project, idx int, ps map[string]string, svc, env string) (Desired, error) {
	name := bucketName(svc, env)
	if err := s3.CheckBucketName(name); err != nil {
		return Desired{}, p.At("services."+svc, "%v: shorten the service or environment name", err)
	}
	v := s3.Enabled
	switch strings.ToLower(ps["versioning"]) {
	case "", "enabled":
	case "suspended":
		v = s3.Suspended
	default:
		return Desired{}, p.At(fmt.Sprintf("environments[%d].stack.object_storage.versioning", idx), "%q is not enabled or suspended", ps["versioning"])
	}
	return Desired{Resource: provider.Resource{Kind: s3.KindBucket, Name: name, Spec: provider.Fields{"versioning": v}},
		Protect: true, Component: "object_storage"}, nil
}

// monitoringOf is a service's scrape file and, when it has an slo:, its
// rules file in env.
func monitoringOf(p *spec.Project, idx int, svc, env string, ps map[string]string) ([]Desired, error) {
	at := func(k string) string { return fmt.Sprintf("environments[%d].stack.monitoring.%s", idx, k) }
	interval := ps["scrape_interval"]
	if interval == "" {
		interval = "15s"
	}
	var targets string
	switch {
	case ps["sd_url"] != "" && ps["targets"] != "":
		return nil, p.At(at("targets"), "set sd_url or targets, not both")
	case ps["sd_url"] != "":
		targets = "sd:" + ps["sd_url"]
	case ps["targets"] != "":
		targets = "static:" + strings.Join(strings.Fields(strings.ReplaceAll(ps["targets"], ",", " ")), ",")
	default:
		return nil, p.At(at("sd_url"), "missing: set sd_url to the agent's service discovery (http://AGENT/v1/sd) or targets to HOST:PORT,…")
	}
	f, err := promfiles.Scrape(svc, env, interval, targets, ps["sd_credentials_file"])
	if err != nil {
		return nil, p.At(at("scrape_interval"), "%v", err)
	}
	pol := policyOf(ps)
	out := []Desired{{Resource: provider.Resource{Kind: promfiles.KindScrape, Name: svc + "-" + env, Spec: f}, Policy: pol, Component: "monitoring"}}
	if s := p.Service(svc); s != nil && s.SLO != nil {
		e := s.SLO.Effective()
		rf, err := promfiles.Rules(svc, env, slo.Objective{Objective: float64(e.Objective), Window: e.Window.D()})
		if err != nil {
			return nil, p.At("services."+svc+".slo", "%v", err)
		}
		out = append(out, Desired{Resource: provider.Resource{Kind: promfiles.KindRules, Name: svc + "-" + env, Spec: rf}, Policy: pol, Component: "monitoring"})
	}
	return out, nil
}

// backupPolicyOf is the backup policy of a service's database in env.
func backupPolicyOf(p *spec.Project, idx int, svc, env string, ps map[string]string) (Desired, error) {
	at := func(k string) string { return fmt.Sprintf("environments[%d].stack.backups.%s", idx, k) }
	schedule := cmp.Or(ps["schedule"], "24h")
	if _, err := backup.ParseSchedule(schedule); err != nil {
		return Desired{}, p.At(at("schedule"), "%v", err)
	}
	retention := cmp.Or(ps["retention"], "7")
	r, err := backup.ParseRetention(retention)
	if err != nil {
		return Desired{}, p.At(at("retention"), "%v", err)
	}
	return Desired{Resource: provider.Resource{Kind: backup.KindPolicy, Name: dbName(svc, env), Spec: provider.Fields{
		"service": svc, "environment": env, "database": dbName(svc, env), "schedule": schedule, "retention": r.String()}},
		Policy: policyOf(ps), Component: "backups"}, nil
}

func policyOf(ps map[string]string) string {
	if ps["management"] == store.PolicyObserve {
		return store.PolicyObserve
	}
	return store.PolicyManage
}

// deleteRank orders deletes: a database before the roles it uses.
func deleteRank(kind string) int {
	if kind == postgres.KindDatabase {
		return 0
	}
	return 1
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// LogForwarding is where an environment's agents ship instance logs.
type LogForwarding struct {
	URL         string
	TokenSecret string // "" when the endpoint takes no token
}

// LogForwardingOf is env's log forwarding, nil when there is none: the
// component not in service_stack, disabled in env, or given no parameters
// there (descriptive, as the case study's log_forwarding: enabled).
func LogForwardingOf(p *spec.Project, env string) (*LogForwarding, error) {
	e := p.Environment(env)
	kind := p.ServiceStack.Components()["log_forwarding"]
	if e == nil || kind == "" {
		return nil, nil
	}
	ps := e.Stack["log_forwarding"]
	if len(ps) == 0 || ps["enabled"] == "false" {
		return nil, nil
	}
	idx := slices.Index(p.Environments, e)
	keys, ok := componentKinds["log_forwarding"][kind]
	if !ok {
		return nil, p.At("service_stack.log_forwarding", "%q is not provisioned by belay yet (supported: http or enabled); set it to disabled", kind)
	}
	keys = append(keys[:len(keys):len(keys)], "enabled")
	for _, k := range sortedKeys(ps) {
		if !slices.Contains(keys, k) {
			return nil, p.At(fmt.Sprintf("environments[%d].stack.log_forwarding.%s", idx, k), "not a parameter of log_forwarding %s; its parameters: %s", kind, strings.Join(keys, ", "))
		}
	}
	if err := checkLogForwarding(p, idx, ps); err != nil {
		return nil, err
	}
	return &LogForwarding{URL: ps["url"], TokenSecret: ps["token_secret"]}, nil
}

// checkLogForwarding checks the endpoint: an http(s) URL, and a token
// only over https or to this host (over plain http it would travel in
// clear).
func checkLogForwarding(p *spec.Project, idx int, ps map[string]string) *spec.Error {
	at := func(k string) string { return fmt.Sprintf("environments[%d].stack.log_forwarding.%s", idx, k) }
	if e := p.Environments[idx]; e.Target == spec.TargetKubernetes {
		// Pods' output is the cluster's to collect; belay's agent is not there.
		return p.At(fmt.Sprintf("environments[%d].stack.log_forwarding", idx),
			"%s runs on Kubernetes, where belay's agent does not run to ship logs: collect the pods' logs with the cluster's log collector and leave log_forwarding out here (enabled: \"false\")", e.Name)
	}
	raw := ps["url"]
	if raw == "" {
		return p.At(at("url"), "missing: name the endpoint the agents POST the instances' log lines to (https://HOST/PATH)")
	}
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		// belay.yaml is no place for a credential, and errors print the URL.
		u.User = nil
		return p.At(at("url"), "%q holds a user and password before the host: leave them out, put the credential in a secret and name it in token_secret (sent as a bearer token)", u.String())
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return p.At(at("url"), "%q is not an http:// or https:// URL", raw)
	}
	if ps["token_secret"] != "" && u.Scheme == "http" && !loopback(u.Hostname()) {
		return p.At(at("url"), "%q is plain http to another host, and the token (%s) would travel in clear: use https", raw, ps["token_secret"])
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
