// Package infra turns belay.yaml's service_stack into resources per
// environment and manages them through providers (internal/infra/provider):
// plan (what would change, field by field, stored with its hash), apply
// (only an approved plan that is still what the servers would get, under
// the environment's lock), drift (what changed on the servers since the
// last apply) and unlock. Providers live in subpackages (postgres, redis).
package infra

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/belay-dev/belay/internal/infra/postgres"
	"github.com/belay-dev/belay/internal/infra/provider"
	"github.com/belay-dev/belay/internal/infra/redis"
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
}

// notProvisioned are components that name no server resource.
var notProvisioned = map[string]bool{"app_service": true}

// Names: the one naming template.
func dbName(svc, env string) string    { return svc + "_" + env }
func ownerRole(svc, env string) string { return svc + "_" + env + "_owner" }
func appRole(svc, env string) string   { return svc + "_" + env + "_app" }
func aclUser(svc, env string) string   { return svc + ":" + env }

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
	st := &Stack{Environment: env, Servers: map[string]string{}}
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
			if name := e.Stack[c]["admin_url_secret"]; name != "" {
				st.Servers[c] = name // resources applied before it was disabled are deleted there
			}
			continue
		}
		kinds, ok := componentKinds[c]
		keys, kok := kinds[comps[c]]
		keys = append(keys[:len(keys):len(keys)], "enabled")
		if !ok || !kok {
			errs = append(errs, p.At("service_stack."+c, "%q is not provisioned by belay yet (supported: database: managed_postgres or postgres; cache: redis); set it to disabled", comps[c]))
			continue
		}
		ps := e.Stack[c]
		for _, k := range sortedKeys(ps) {
			if !slices.Contains(keys, k) {
				errs = append(errs, p.At(fmt.Sprintf("environments[%d].stack.%s.%s", idx, c, k), "not a parameter of %s %s; its parameters: %s", c, comps[c], strings.Join(keys, ", ")))
			}
		}
		if ps["admin_url_secret"] == "" {
			errs = append(errs, p.At(fmt.Sprintf("environments[%d].stack.%s.admin_url_secret", idx, c), "missing: name the %s secret holding the administrator URL of the %s server (belay secrets set NAME --env %s)", env, comps[c], env))
		}
		switch m := ps["management"]; m {
		case "", store.PolicyManage, store.PolicyObserve:
		default:
			errs = append(errs, p.At(fmt.Sprintf("environments[%d].stack.%s.management", idx, c), "%q is not manage or observe", m))
		}
		params[c] = ps
		st.Servers[c] = ps["admin_url_secret"]
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
// and not provisioned by belay.
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
		if !named {
			continue
		}
		_, err := StackOf(p, e.Name, noSecrets)
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
	}
	return ""
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
