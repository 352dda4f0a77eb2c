package spec

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the work of one document, so that aliases that expand
// exponentially ("billion laughs") fail with an error instead of hanging.
const maxNodes = 200_000

// decoder walks yaml.v3 nodes into the model by reflection, keyed by the
// `yaml` struct tags, and records the position of every field path so that
// later validation can point at the right line.
type decoder struct {
	file  string
	errs  Errors
	pos   map[string]Pos // field path → where it is written
	nodes int
	// misspelt holds field paths whose key was written wrongly (and
	// reported with a suggestion), so checks do not also call them missing.
	misspelt map[string]bool
	loose    bool                // decoding a schema:"scalar" field: numbers and booleans are text
	merged   map[*yaml.Node]bool // mappings holding a refused merge key
	promUsed map[string]bool     // services whose triggers read metrics: from Prometheus
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, pos: map[string]Pos{}, misspelt: map[string]bool{}, merged: map[*yaml.Node]bool{}, promUsed: map[string]bool{}}
}

// nodeDecoder is implemented by types whose YAML form is not their Go shape
// (durations, percentages, trigger lines, versions).
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string)
}

// enum is implemented by string types with a closed set of values.
type enum interface {
	values() []string
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.addErr(posOf(n), path, nil, fmt.Sprintf(format, args...))
}

func (d *decoder) addErr(p Pos, path string, cause error, msg string) {
	d.errs = append(d.errs, &Error{File: d.file, Pos: p, Path: path, Msg: msg, Err: cause})
}

// errAt reports a problem found after decoding, at the recorded position of
// path or of its nearest recorded parent.
//
// A field that already has a problem gets no second one: a value that did not
// decode would otherwise also fail every check that reads it.
func (d *decoder) errAt(path, format string, args ...any) {
	for _, e := range d.errs {
		if e.Path == path {
			return
		}
	}
	d.addErr(d.where(path), path, nil, fmt.Sprintf(format, args...))
}

func (d *decoder) where(path string) Pos {
	for p := path; ; {
		if pos, ok := d.pos[p]; ok {
			return pos
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return Pos{Line: 1, Column: 1}
		}
		p = p[:i]
	}
}

func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// resolve follows aliases and counts nodes against the budget; it returns nil
// when the budget is spent.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.nodes++
	if d.nodes == maxNodes {
		d.errorf(n, "", "document too large: more than %d values after expanding aliases", maxNodes)
	}
	if d.nodes >= maxNodes {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describe names what was found, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.Tag {
	case "!!null":
		return "nothing"
	case "!!str":
		return strconv.Quote(n.Value)
	}
	return n.Value
}

// decode fills v (addressable) from n. keyPos, when set, is where the key
// naming this value is written; collections are reported there.
func (d *decoder) decode(n *yaml.Node, path string, v reflect.Value, keyPos *Pos) {
	if n = d.resolve(n); n == nil {
		return
	}
	switch {
	case keyPos != nil && (n.Kind != yaml.ScalarNode || isNull(n)):
		d.pos[path] = *keyPos
	default:
		d.pos[path] = posOf(n)
	}
	if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
		nd.decodeNode(d, n, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		e := reflect.New(v.Type().Elem())
		d.decode(n, path, e.Elem(), keyPos)
		v.Set(e)
	case reflect.Struct:
		d.decodeStruct(n, path, v)
	case reflect.Slice:
		d.decodeSlice(n, path, v)
	case reflect.Map:
		d.decodeMap(n, path, v)
	default:
		d.decodeScalar(n, path, v)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, path string, v reflect.Value) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "expected a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		d.decode(c, index(path, i), s.Index(i), nil)
	}
	v.Set(s)
}

// pairs checks that n is a mapping with unique scalar keys and calls f for
// each key and value; merge keys are refused since they hide where a value
// came from.
func (d *decoder) pairs(n *yaml.Node, path, what string, f func(k, val *yaml.Node)) bool {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected %s, got %s", what, describe(n))
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i])
		if k == nil {
			return false
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be plain names, got %s", describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.merged[n] = true
			d.errorf(k, path, "YAML merge keys (<<) are not supported: write the keys out")
			continue
		}
		if line, dup := seen[k.Value]; dup {
			what := "key"
			if path == "services" {
				what = "service"
			}
			d.errorf(k, join(path, k.Value), "duplicate %s %q (first defined on line %d): names must be unique", what, k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		f(k, n.Content[i+1])
	}
	return true
}

func (d *decoder) decodeMap(n *yaml.Node, path string, v reflect.Value) {
	if isNull(n) {
		return
	}
	m := reflect.MakeMap(v.Type())
	ok := d.pairs(n, path, "a mapping", func(k, val *yaml.Node) {
		e := reflect.New(v.Type().Elem()).Elem()
		kp := posOf(k)
		d.decode(val, join(path, k.Value), e, &kp)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e)
	})
	if ok {
		v.Set(m)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value) {
	fs := fieldsOf(v.Type())
	set := map[string]bool{}
	ok := d.pairs(n, path, mappingOf(fs.names), func(k, val *yaml.Node) {
		f, known := fs.byName[k.Value]
		if !known && path == "" && strings.HasPrefix(k.Value, "x-") {
			return // top-level x- keys hold anchors for reuse, like Compose files
		}
		if !known {
			hint, extra := suggest(k.Value, fs.names), ""
			if path == "" {
				extra = " (or x-NAME to hold YAML anchors)"
			}
			if _, inPlan := fieldsOf(reflect.TypeFor[ReleasePlan]()).byName[k.Value]; inPlan && v.Type() == reflect.TypeFor[releasePlanDoc]() {
				extra = "; " + k.Value + " belongs under release_plan: indent it"
			}
			d.errorf(k, join(path, k.Value), "unknown field%s; expected one of: %s%s", hint, strings.Join(fs.names, ", "), extra)
			if best := closest(k.Value, fs.names); hint != "" {
				d.misspelt[join(path, best)] = true
				set[best] = true // reported as misspelt, not also as missing
			}
			return
		}
		set[k.Value] = true
		kp := posOf(k)
		loose := d.loose
		d.loose = f.scalar
		d.decode(val, join(path, k.Value), v.Field(f.index), &kp)
		d.loose = loose
		if fk := v.Field(f.index).Kind(); f.required && isNull(d.resolveQuiet(val)) &&
			(fk == reflect.Pointer || fk == reflect.Slice || fk == reflect.Map) {
			d.errorf(val, join(path, k.Value), "%s is required and may not be empty", k.Value)
		}
	})
	if !ok {
		return
	}
	if d.merged[n] {
		return // the merge key's error says it all
	}
	for _, name := range fs.names {
		if f := fs.byName[name]; f.required && !set[name] {
			d.errAt(join(path, name), "required field is missing")
		}
	}
}

func (d *decoder) resolveQuiet(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func (d *decoder) decodeScalar(n *yaml.Node, path string, v reflect.Value) {
	want := scalarWant(v)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, path, "expected %s, got %s", want, describe(n))
		return
	}
	switch v.Kind() {
	case reflect.String:
		if n.Tag != "!!str" && !d.loose {
			d.errorf(n, path, "expected a string, got %s: quote it if you mean the text, e.g. \"%s\"", n.Value, n.Value)
			return
		}
		if e, ok := v.Addr().Interface().(enum); ok {
			if !contains(e.values(), n.Value) {
				d.errorf(n, path, "unknown value %q%s; expected one of: %s",
					n.Value, suggest(n.Value, e.values()), strings.Join(e.values(), ", "))
				return
			}
		}
		v.SetString(n.Value)
	case reflect.Int, reflect.Int64:
		var i int64
		if n.Tag != "!!int" || n.Decode(&i) != nil {
			d.errorf(n, path, "expected %s, got %s", want, describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		var f float64
		if (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil || f != f {
			d.errorf(n, path, "expected %s, got %s", want, describe(n))
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		var b bool
		if n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.errorf(n, path, "expected %s, got %s", want, describe(n))
			return
		}
		v.SetBool(b)
	default:
		// A programming error in the model, not in the user's file.
		panic(fmt.Sprintf("spec: no decoder for %s at %s", v.Type(), path))
	}
}

func scalarWant(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	}
	if e, ok := v.Addr().Interface().(enum); ok {
		return "one of " + strings.Join(e.values(), ", ")
	}
	return "a string"
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// field is one YAML key of a model struct.
type field struct {
	index    int
	required bool
	scalar   bool // any YAML scalar is taken as its text (tag schema:"scalar")
}

type fieldSet struct {
	byName map[string]field
	names  []string // in declaration order, for messages and the schema
}

var fieldCache sync.Map // reflect.Type → *fieldSet

// fieldsOf reads the `yaml:"name"` and `belay:"required"` tags of t.
// mappingOf says what a struct's mapping looks like, so that a scalar or a
// list where it belongs says what to write instead.
func mappingOf(names []string) string {
	const shown = 5
	if len(names) > shown {
		return "a mapping (keys such as " + strings.Join(names[:shown], ", ") + ", …)"
	}
	return "a mapping (keys: " + strings.Join(names, ", ") + ")"
}

func fieldsOf(t reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byName: map[string]field{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		fs.byName[name] = field{index: i, required: sf.Tag.Get("belay") == "required", scalar: sf.Tag.Get("schema") == "scalar"}
		fs.names = append(fs.names, name)
	}
	fieldCache.Store(t, fs)
	return fs
}
