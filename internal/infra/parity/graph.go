// Package parity renders each environment of a belay.yaml as a labelled
// graph of the resources it implies and compares two environments' graphs:
// same shape, not same size (docs/parity.md).
//
// A graph is built from internal/spec's model only. Its nodes are the
// resources an environment's services and service_stack imply (role, kind,
// engine, version and the other shape attributes); its edges are
// dependencies, secret flow and observability hooks. Size attributes and
// addresses are dropped, and the environment's name is replaced by {env} in
// every name and value, before two graphs are compared.
package parity

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/belay-dev/belay/internal/spec"
)

// Graph is one environment rendered.
type Graph struct {
	Environment string  `json:"environment"`
	Nodes       []*Node `json:"nodes"`
	Edges       []Edge  `json:"edges"`

	byID map[string]*Node // Node's index, built on first use after Render
}

// Node is one resource.
type Node struct {
	// ID names the resource the same way in every environment:
	// ROLE/SERVICE (database/api), or ROLE/NAME for project-wide ones
	// (events/webhook/ops).
	ID   string `json:"id"`
	Role string `json:"role"`
	// Kind is what service_stack says the component is (managed_postgres,
	// redis, enabled, …) or, for the other roles, what the spec says.
	Kind string `json:"kind"`
	// Attrs are the shape attributes, compared between environments.
	Attrs map[string]string `json:"attributes,omitempty"`
	// Dropped are the size attributes and addresses, shown but never
	// compared.
	Dropped map[string]string `json:"dropped,omitempty"`
}

// Edge is a labelled relation: uses (a service on its stack resources),
// secret (a secret a service gets), backs_up, scrapes, ships_logs,
// measures, judges, objective_of.
type Edge struct {
	From  string `json:"from"`
	Label string `json:"label"`
	To    string `json:"to"`
}

func (e Edge) String() string { return e.From + " -" + e.Label + "-> " + e.To }

// Node returns the node with id, or nil.
func (g *Graph) Node(id string) *Node {
	if len(g.byID) != len(g.Nodes) {
		g.byID = make(map[string]*Node, len(g.Nodes))
		for _, n := range g.Nodes {
			g.byID[n.ID] = n
		}
	}
	return g.byID[id]
}

// Stack component roles, in service_stack order; app_service is the
// service itself.
var perService = []string{"database", "cache", "queue", "object_storage", "monitoring", "log_forwarding", "backups"}

// EnabledParam is the stack parameter that leaves a component out of one
// environment: COMPONENT: {enabled: false}.
const EnabledParam = "enabled"

// sizeKeys are the stack parameters that size a component; parity drops
// them. So are keys ending in one of sizeSuffixes.
var sizeKeys = map[string]bool{
	"size": true, "instances": true, "replicas": true, "memory": true, "maxmemory": true,
	"cpu": true, "cpus": true, "storage": true, "disk": true, "connection_limit": true,
	"connections": true, "max_connections": true, "pool_size": true, "max_bytes": true,
	"max_msgs": true, "max_age": true, "retention": true, "keep": true, "quota": true,
	// a metric's resolution, not what is watched (a backup schedule, the
	// data a restore can lose, stays shape)
	"scrape_interval": true,
}

var sizeSuffixes = []string{"_size", "_bytes", "_limit", "_count", "_retention", "_days"}

// SizeKey reports whether a stack parameter is a size (dropped by parity)
// rather than shape (compared).
func SizeKey(key string) bool {
	if sizeKeys[key] {
		return true
	}
	for _, s := range sizeSuffixes {
		if strings.HasSuffix(key, s) {
			return true
		}
	}
	return false
}

// Render renders environment env of p.
func Render(p *spec.Project, env string) (*Graph, error) {
	e := p.Environment(env)
	if e == nil {
		return nil, fmt.Errorf("environment %q is not defined in %s; environments: %s", env, p.File, strings.Join(p.EnvironmentNames(), ", "))
	}
	g := &Graph{Environment: env, byID: map[string]*Node{}}
	norm := normaliser(env)
	comps := p.ServiceStack.Components()
	add := func(n *Node) {
		for k, v := range n.Attrs {
			n.Attrs[k] = norm(v)
		}
		n.Kind = norm(n.Kind)
		g.Nodes = append(g.Nodes, n)
		g.byID[n.ID] = n
	}
	edge := func(from, label, to string) { g.Edges = append(g.Edges, Edge{from, label, to}) }
	enabled := func(c string) (bool, error) {
		v, ok := e.Stack[c][EnabledParam]
		if !ok {
			return true, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%s: environment %s: stack.%s.enabled is %q: write true or false", p.File, env, c, v)
		}
		return b, nil
	}
	for _, c := range sortedKeys(e.Stack) {
		if _, err := enabled(c); err != nil {
			return nil, err
		}
	}
	for _, name := range p.ServiceNames() {
		s := p.Service(name)
		eff, err := p.Effective(name, env)
		if err != nil {
			return nil, err
		}
		svc := "service/" + name
		sn := &Node{ID: svc, Role: "service", Kind: "process", Attrs: map[string]string{}, Dropped: map[string]string{}}
		if k, ok := comps["app_service"]; ok {
			sn.Kind = k
		}
		sn.Attrs["target"] = string(e.Target)
		sn.Dropped["instances"] = strconv.Itoa(eff.Instances)
		if eff.Listen != "" {
			sn.Dropped["listen"] = eff.Listen
		}
		if len(eff.Env) > 0 {
			sn.Attrs["env"] = strings.Join(sortedKeys(eff.Env), " ")
		}
		if s.Run != nil && s.Run.Port != 0 {
			sn.Attrs["port"] = strconv.Itoa(s.Run.Port)
		}
		stackAttrs(sn, e.Stack["app_service"])
		if s.Migration != nil {
			sn.Attrs["migration"] = string(s.Migration.Type)
		}
		var secrets []string
		if s.Run != nil {
			secrets = slices.Sorted(slices.Values(s.Run.Secrets))
			secrets = slices.Compact(secrets)
		}
		if len(secrets) > 0 {
			sn.Attrs["secrets"] = strings.Join(secrets, " ")
		}
		add(sn)
		for _, sec := range secrets {
			id := "secret/" + norm(sec)
			if g.Node(id) == nil {
				add(&Node{ID: id, Role: "secret", Kind: "environment_secret", Attrs: map[string]string{}})
			}
			edge(svc, "secret", id)
		}
		for _, c := range perService {
			kind, ok := comps[c]
			if !ok {
				continue
			}
			if on, _ := enabled(c); !on {
				continue
			}
			id := c + "/" + name
			n := &Node{ID: id, Role: c, Kind: kind, Attrs: map[string]string{}, Dropped: map[string]string{}}
			if eng := engine(c, kind); eng != "" {
				n.Attrs["engine"] = eng
			}
			stackAttrs(n, e.Stack[c])
			add(n)
			switch c {
			case "monitoring":
				edge(id, "scrapes", svc)
			case "log_forwarding":
				edge(id, "ships_logs", svc)
			case "backups":
				if _, db := comps["database"]; db {
					if on, _ := enabled("database"); on {
						edge(id, "backs_up", "database/"+name)
					}
				}
			default:
				edge(svc, "uses", id)
			}
		}
		observability(p, s, add, edge)
	}
	if ev := p.Events; ev != nil {
		for _, w := range ev.Webhooks {
			add(&Node{ID: "events/webhook/" + w.Name, Role: "events", Kind: "webhook", Attrs: map[string]string{
				"url": w.URL, "events": strings.Join(slices.Sorted(slices.Values(w.Events)), " "), "secret_env": w.SecretEnv}})
		}
		for _, c := range ev.CDEvents {
			add(&Node{ID: "events/cdevents/" + c.Name, Role: "events", Kind: "cdevents", Attrs: map[string]string{"url": c.URL, "source": c.Source}})
		}
		for _, gr := range ev.Grafana {
			add(&Node{ID: "events/grafana/" + gr.Name, Role: "events", Kind: "grafana", Attrs: map[string]string{"url": gr.URL}})
		}
	}
	for _, n := range g.Nodes {
		for k, v := range n.Attrs {
			if v == "" {
				delete(n.Attrs, k)
			}
		}
	}
	// An edge to a component left out of this environment goes too.
	g.Edges = slices.DeleteFunc(g.Edges, func(e Edge) bool { return g.Node(e.From) == nil || g.Node(e.To) == nil })
	sort.Slice(g.Nodes, func(i, j int) bool { return g.Nodes[i].ID < g.Nodes[j].ID })
	sort.Slice(g.Edges, func(i, j int) bool { return g.Edges[i].String() < g.Edges[j].String() })
	return g, nil
}

// observability adds the service's metrics source, rollback triggers and
// SLO; they hang on the service.
func observability(p *spec.Project, s *spec.Service, add func(*Node), edge func(string, string, string)) {
	svc := "service/" + s.Name
	if a := s.Analysis; a != nil {
		m := &Node{ID: "metrics/" + s.Name, Role: "metrics", Kind: string(a.Source), Attrs: map[string]string{"test": string(a.Test)}}
		if m.Kind == "" {
			m.Kind = string(spec.SourceBuiltin)
		}
		if pr := a.Prometheus; pr != nil {
			m.Attrs["url"] = pr.URL
			if q := pr.Queries; q != nil {
				m.Attrs["queries"] = strings.Join([]string{q.Requests, q.Errors, q.Buckets, q.HealthFailures, q.Restarts}, " | ")
			}
		}
		add(m)
		edge(m.ID, "measures", svc)
	}
	if len(s.RollbackTrigger) > 0 || len(s.RollbackAction) > 0 {
		var rules, actions []string
		for _, t := range s.RollbackTrigger {
			rules = append(rules, t.Raw)
		}
		for _, a := range s.RollbackAction {
			actions = append(actions, a.String())
		}
		sort.Strings(rules)
		add(&Node{ID: "triggers/" + s.Name, Role: "triggers", Kind: "rollback_trigger",
			Attrs: map[string]string{"rules": strings.Join(rules, "; "), "actions": strings.Join(actions, "; ")}})
		edge("triggers/"+s.Name, "judges", svc)
	}
	if s.SLO != nil {
		slo := s.SLO.Effective()
		add(&Node{ID: "slo/" + s.Name, Role: "slo", Kind: "availability",
			Attrs: map[string]string{"objective": slo.Objective.String(), "window": slo.Window.String()}})
		edge("slo/"+s.Name, "objective_of", svc)
		if _, ok := p.ServiceStack.Components()["monitoring"]; ok {
			edge("monitoring/"+s.Name, "rules_for", "slo/"+s.Name)
		}
	}
}

// stackAttrs sorts one component's stack parameters into shape and size.
func stackAttrs(n *Node, params map[string]string) {
	for k, v := range params {
		switch {
		case k == EnabledParam:
		case SizeKey(k):
			n.Dropped[k] = v
		default:
			n.Attrs[k] = v
		}
	}
}

// engine is what a component kind runs on, where the kind says it. The
// case study's managed_queue and object_storage: enabled are what belay
// provisions them on (internal/infra): NATS JetStream and S3.
func engine(role, kind string) string {
	k := strings.ToLower(kind)
	switch {
	case role == "queue" && k == "managed_queue":
		return "nats"
	case role == "object_storage" && k == "enabled":
		return "s3"
	}
	for _, e := range []struct{ has, engine string }{
		{"postgres", "postgresql"}, {"redis", "redis"}, {"valkey", "valkey"}, {"nats", "nats"},
		{"rabbitmq", "rabbitmq"}, {"s3", "s3"}, {"prometheus", "prometheus"}, {"mysql", "mysql"},
	} {
		if strings.Contains(k, e.has) {
			return e.engine
		}
	}
	return ""
}

// normaliser replaces the environment's name, where it stands as a word
// (between non-alphanumerics), by {env}: api_staging and
// https://staging.example.com name the same resource in every environment.
func normaliser(env string) func(string) string {
	re := regexp.MustCompile(`(^|[^A-Za-z0-9])(?i:` + regexp.QuoteMeta(env) + `)($|[^A-Za-z0-9])`)
	lower := strings.ToLower(env)
	return func(s string) string {
		if !strings.Contains(strings.ToLower(s), lower) {
			return s
		}
		// ReplaceAll does not see overlapping matches (staging.staging):
		// repeat until nothing changes.
		for {
			t := re.ReplaceAllString(s, "${1}{env}${2}")
			if t == s {
				return t
			}
			s = t
		}
	}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
