package spec

import (
	"encoding/json"
	"reflect"
	"strings"
)

// SchemaID is the $id of belay.yaml's JSON Schema.
const SchemaID = "https://belay.dev/schema/belay.json"

// schemaer is implemented by types whose YAML form is not their Go shape.
type schemaer interface {
	jsonSchema() map[string]any
}

// schemaNarrower is implemented by structs whose fields have rules beyond
// their Go types (one of several keys, a closed list, a range).
type schemaNarrower interface {
	narrowSchema(s map[string]any)
}

// Schema returns the JSON Schema (draft 2020-12) of belay.yaml and of release
// plan files, generated from the model's structs so that the two cannot
// drift apart. It checks shapes, enums and value syntax, and that a rollout
// step is one of weight, shadow and replay; the cross-field rules (canary
// weights increase, shadow steps come first, environments exist, …) are
// belay validate's.
func Schema() map[string]any {
	defs := map[string]any{}
	project := schemaOf(reflect.TypeFor[Project](), defs)
	plan := schemaOf(reflect.TypeFor[releasePlanDoc](), defs)
	return map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         SchemaID,
		"title":       "belay.yaml",
		"description": "A belay project (services, environments, pipeline, service_stack) or a file holding one release_plan.",
		"anyOf":       []any{project, plan},
		"$defs":       defs,
	}
}

// SchemaJSON is Schema, indented.
func SchemaJSON() []byte {
	b, err := json.MarshalIndent(Schema(), "", "  ")
	if err != nil {
		panic(err) // the schema is built from maps of plain values
	}
	return append(b, '\n')
}

func schemaOf(t reflect.Type, defs map[string]any) map[string]any {
	if s, ok := reflect.New(t).Interface().(schemaer); ok {
		return s.jsonSchema()
	}
	if e, ok := reflect.New(t).Interface().(enum); ok && t.Kind() == reflect.String {
		return map[string]any{"type": "string", "enum": toAny(e.values())}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem(), defs)
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), defs)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), defs)}
	case reflect.Struct:
		name := strings.TrimPrefix(t.Name(), "releasePlanDoc")
		if name == "" {
			name = "ReleasePlanFile"
		}
		if _, done := defs[name]; !done {
			defs[name] = true // placeholder against recursion
			defs[name] = structSchema(t, defs)
		}
		return map[string]any{"$ref": "#/$defs/" + name}
	}
	panic("spec: no schema for " + t.String())
}

func structSchema(t reflect.Type, defs map[string]any) map[string]any {
	fs := fieldsOf(t)
	props := map[string]any{}
	var required []any
	for _, name := range fs.names {
		f := fs.byName[name]
		sf := t.Field(f.index)
		props[name] = schemaOf(sf.Type, defs)
		if sf.Tag.Get("schema") == "scalar" {
			// Written as any YAML scalar, kept as its text (env values, sizes).
			props[name] = scalarSchema(sf.Type)
		}
		if f.required {
			required = append(required, name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if t == reflect.TypeFor[Project]() {
		s["patternProperties"] = map[string]any{"^x-": true} // anchors for reuse
	}
	if len(required) > 0 {
		s["required"] = required
	}
	if n, ok := reflect.New(t).Interface().(schemaNarrower); ok {
		n.narrowSchema(s)
	}
	return s
}

// narrowSchema: a step is exactly one of weight, shadow and replay.
func (*CanaryStep) narrowSchema(s map[string]any) {
	var one []any
	for _, k := range []StepKind{StepWeight, StepShadow, StepReplay} {
		one = append(one, map[string]any{"required": []any{string(k)}})
	}
	s["oneOf"] = one
}

// narrowSchema: the methods shadow copies, and the bounds of the numbers.
func (*ShadowSettings) narrowSchema(s map[string]any) {
	props := s["properties"].(map[string]any)
	props["methods"].(map[string]any)["items"] = map[string]any{"type": "string", "enum": toAny(shadowMethods)}
	props["max_in_flight"].(map[string]any)["minimum"] = 1
	props["max_in_flight"].(map[string]any)["maximum"] = MaxShadowInFlight
	props["max_rate"].(map[string]any)["minimum"] = 0
	props["replay_rate"].(map[string]any)["exclusiveMinimum"] = 0
	props["replay_rate"].(map[string]any)["maximum"] = MaxReplayRate
}

// narrowSchema: branch and tag patterns are non-empty lists of names
// without the characters git refuses in refs (the rest is belay validate's).
func (*Protection) narrowSchema(s map[string]any) {
	props := s["properties"].(map[string]any)
	for _, f := range []string{"branches", "tags"} {
		props[f] = map[string]any{"type": "array", "minItems": 1, "items": map[string]any{
			"type": "string", "pattern": `^[^\s~^:\\\[]+$`,
			"description": "a branch or tag name pattern: * matches within a path segment, ** across /, ? one character; e.g. main, release/*, v*",
		}}
	}
}

func toAny(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func (*Duration) jsonSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`,
		"description": "a Go duration such as 30s, 5m or 1h30m"}
}

func (*Percent) jsonSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": `^\s*(100(\.0+)?|[0-9]{1,2}(\.[0-9]+)?)\s*%$`,
		"description": "a percentage between 0% and 100%, e.g. 5%"}
}

func (*Version) jsonSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": `^[a-z]([a-z0-9-]{0,61}[a-z0-9])?-[0-9]{4}\.[0-9]{2}\.[0-9]{2}-[0-9a-f]{7,12}$`,
		"description": "<service>-<YYYY.MM.DD>-<shortsha>, e.g. api-2026.05.12-8f3a91c"}
}

func (*Triggers) jsonSchema() map[string]any {
	// a metric of metrics: may be named too, so any metric name passes here
	return map[string]any{"type": "array", "items": map[string]any{
		"type":        "string",
		"pattern":     `^\s*[a-z][a-z0-9_]*\s*(>=|<=|>|<)\s*[^\s<>=].*$`,
		"description": "<metric> <op> <value> [for <duration>], e.g. error_rate > 1% for 5m; metric: " + strings.Join(Metrics(), ", ") + " or a name under metrics:",
	}}
}

func (*RollbackActions) jsonSchema() map[string]any {
	line := map[string]any{"type": "string", "pattern": `^\s*(deploy\s+previous_stable|(disable_flag|enable_flag)\s+[A-Za-z0-9_.-]+)\s*$`}
	return map[string]any{
		"description": "deploy previous_stable, or a list such as [disable_flag X, deploy previous_stable]",
		"anyOf":       []any{line, map[string]any{"type": "array", "minItems": 1, "items": line}},
	}
}

func scalarSchema(t reflect.Type) map[string]any {
	scalar := map[string]any{"type": []any{"string", "number", "boolean"}}
	for t.Kind() == reflect.Map {
		scalar = map[string]any{"type": "object", "additionalProperties": scalar}
		t = t.Elem()
	}
	return scalar
}
