package spec

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// ServiceStack is the seed's service_stack: the shape every environment
// shares. Each value names the kind of the component (managed_postgres,
// redis, …) or says enabled / disabled; environments size it through their
// own stack parameters.
type ServiceStack struct {
	AppService    string `yaml:"app_service" json:"app_service,omitempty"`
	Database      string `yaml:"database" json:"database,omitempty"`
	Cache         string `yaml:"cache" json:"cache,omitempty"`
	Queue         string `yaml:"queue" json:"queue,omitempty"`
	ObjectStorage string `yaml:"object_storage" json:"object_storage,omitempty"`
	Monitoring    string `yaml:"monitoring" json:"monitoring,omitempty"`
	LogForwarding string `yaml:"log_forwarding" json:"log_forwarding,omitempty"`
	Backups       string `yaml:"backups" json:"backups,omitempty"`
}

// Disabled is the component value that turns a component off.
const Disabled = "disabled"

// Components returns the components in use (named and not disabled), mapped
// to their kind.
func (s *ServiceStack) Components() map[string]string {
	out := map[string]string{}
	if s == nil {
		return out
	}
	v := reflect.ValueOf(s).Elem()
	fs := fieldsOf(v.Type())
	for _, name := range fs.names {
		if kind := v.Field(fs.byName[name].index).String(); kind != "" && kind != Disabled {
			out[name] = kind
		}
	}
	return out
}

// StackParams are one environment's parameters for the stack: component →
// key → value (sizes, versions, counts), e.g. database: {size: large}.
type StackParams map[string]map[string]string

func (d *decoder) checkStack(p *Project) {
	comps := p.ServiceStack.Components()
	names := sortedKeys(comps)
	for i, env := range p.Environments {
		if env == nil {
			continue
		}
		for _, c := range sortedKeys(env.Stack) {
			if _, ok := comps[c]; ok {
				continue
			}
			path := index("environments", i) + ".stack." + c
			if p.ServiceStack == nil {
				d.errAt(path, "parameters for %q, but the project has no service_stack", c)
				continue
			}
			d.errAt(path, "%q is not a component of service_stack%s; components in use: %s", c, suggest(c, names), listOrNone(names))
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "(none)"
	}
	return strings.Join(xs, ", ")
}

// At is a problem found after parsing (by `belay plan`, say) at path
// (e.g. "environments[1].stack.database.size"), placed where the nearest
// written field of path is, like a parse error.
func (p *Project) At(path, format string, args ...any) *Error {
	pos := Pos{Line: 1, Column: 1}
	for q := path; ; {
		if v, ok := p.pos[q]; ok {
			pos = v
			break
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			break
		}
		q = q[:i]
	}
	return &Error{File: p.File, Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)}
}
