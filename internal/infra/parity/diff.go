package parity

import (
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/belay-dev/belay/internal/spec"
)

// Absent is the value a difference shows for a resource or an edge that one
// environment does not have.
const Absent = "(absent)"

// Difference is one way two environments' shapes differ.
type Difference struct {
	// Resource is the node's ID (for an edge, its source).
	Resource string `json:"resource"`
	// Attribute is the shape attribute that differs; empty when the
	// resource itself is in one environment only; "edge LABEL TO" for an
	// edge in one environment only.
	Attribute string `json:"attribute,omitempty"`
	// A and B are the values in the two environments (Absent, or
	// "present" for a resource or edge).
	A string `json:"a"`
	B string `json:"b"`
	// Reason is the declared exception's reason, when one excuses it.
	Reason string `json:"reason,omitempty"`
	// Exception is where that exception is written (parity.exceptions[i]).
	Exception string `json:"exception,omitempty"`
}

// Report is the comparison of environment A with environment B.
type Report struct {
	A string `json:"a"`
	B string `json:"b"`
	// Equal is true when no difference is left unexcused and every
	// exception that holds between A and B excuses something.
	Equal bool `json:"equal"`
	// Differences are those no exception excuses.
	Differences []Difference `json:"differences"`
	// Excused are those a declared exception excuses, with its reason.
	Excused []Difference `json:"excused,omitempty"`
	// Unused are the exceptions holding between A and B that excuse
	// nothing: each is an error, so that stale exceptions do not pile up.
	Unused []*spec.Error `json:"unused_exceptions,omitempty"`
	// Resources counts the resources compared (union of both).
	Resources int `json:"resources"`
	// Graphs are A's and B's graphs, when asked for (belay parity --graphs).
	Graphs []*Graph `json:"graphs,omitempty"`
}

// Compare renders environments a and b of p and compares them, applying the
// project's parity exceptions. An exception that names no resource or
// attribute any environment renders is an error (see CheckExceptions).
func Compare(p *spec.Project, a, b string) (*Report, error) {
	if a == b {
		return nil, fmt.Errorf("compare two different environments: both are %q", a)
	}
	ga, err := Render(p, a)
	if err != nil {
		return nil, err
	}
	gb, err := Render(p, b)
	if err != nil {
		return nil, err
	}
	if errs, err := CheckExceptions(p); err != nil {
		return nil, err
	} else if len(errs) > 0 {
		return nil, errs
	}
	var xs []*spec.ParityException
	if p.Parity != nil {
		xs = p.Parity.Exceptions
	}
	r := Diff(ga, gb, xs)
	for _, e := range r.Unused {
		e.File = p.File
	}
	return r, nil
}

// Diff compares two rendered graphs under exceptions.
func Diff(ga, gb *Graph, exceptions []*spec.ParityException) *Report {
	r := &Report{A: ga.Environment, B: gb.Environment, Differences: []Difference{}}
	var all []Difference
	ids := map[string]bool{}
	for _, n := range ga.Nodes {
		ids[n.ID] = true
	}
	for _, n := range gb.Nodes {
		ids[n.ID] = true
	}
	r.Resources = len(ids)
	for _, id := range sortedKeys(ids) {
		na, nb := ga.Node(id), gb.Node(id)
		switch {
		case na == nil:
			all = append(all, Difference{Resource: id, A: Absent, B: "present"})
			continue
		case nb == nil:
			all = append(all, Difference{Resource: id, A: "present", B: Absent})
			continue
		}
		if na.Kind != nb.Kind {
			all = append(all, Difference{Resource: id, Attribute: "kind", A: na.Kind, B: nb.Kind})
		}
		keys := map[string]bool{}
		for k := range na.Attrs {
			keys[k] = true
		}
		for k := range nb.Attrs {
			keys[k] = true
		}
		for _, k := range sortedKeys(keys) {
			va, oka := na.Attrs[k]
			vb, okb := nb.Attrs[k]
			if !oka {
				va = Absent
			}
			if !okb {
				vb = Absent
			}
			if va != vb {
				all = append(all, Difference{Resource: id, Attribute: k, A: va, B: vb})
			}
		}
	}
	// Edges between resources both environments have; a resource in one
	// only is already a difference, its edges would only repeat it.
	edges := map[Edge][2]bool{}
	for _, e := range ga.Edges {
		v := edges[e]
		v[0] = true
		edges[e] = v
	}
	for _, e := range gb.Edges {
		v := edges[e]
		v[1] = true
		edges[e] = v
	}
	var es []Edge
	for e, in := range edges {
		if in[0] != in[1] && ga.Node(e.From) != nil && gb.Node(e.From) != nil && ga.Node(e.To) != nil && gb.Node(e.To) != nil {
			es = append(es, e)
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].String() < es[j].String() })
	for _, e := range es {
		d := Difference{Resource: e.From, Attribute: "edge " + e.Label + " " + e.To, A: "present", B: Absent}
		if !edges[e][0] {
			d.A, d.B = Absent, "present"
		}
		all = append(all, d)
	}

	used := make([]bool, len(exceptions))
	for _, d := range all {
		excused := false
		for i, x := range exceptions {
			if x == nil || !x.Applies(r.A, r.B) || !x.Matches(d.Resource, d.Attribute) {
				continue
			}
			used[i] = true
			if !excused {
				d.Reason, d.Exception = x.Reason, x.Path
				r.Excused = append(r.Excused, d)
				excused = true
			}
		}
		if !excused {
			r.Differences = append(r.Differences, d)
		}
	}
	for i, x := range exceptions {
		if x != nil && x.Applies(r.A, r.B) && !used[i] {
			r.Unused = append(r.Unused, exceptionError(x, fmt.Sprintf("the exception for %s excuses no difference between %s and %s: remove it, or list the environments it is for", describe(x), r.A, r.B)))
		}
	}
	r.Equal = len(r.Differences) == 0 && len(r.Unused) == 0
	return r
}

func describe(x *spec.ParityException) string {
	if x.Attribute == "" {
		return x.Resource + " (its presence)"
	}
	return x.Resource + " " + x.Attribute
}

func exceptionError(x *spec.ParityException, msg string) *spec.Error {
	return &spec.Error{Pos: x.Pos, Path: x.Path, Msg: msg}
}

// CheckExceptions reports the exceptions that match nothing any environment
// renders: a resource pattern no environment has, or an attribute the
// matching resources have in no environment. Each error carries the
// exception's position in p.File.
func CheckExceptions(p *spec.Project) (spec.Errors, error) {
	if p.Parity == nil || len(p.Parity.Exceptions) == 0 {
		return nil, nil
	}
	var graphs []*Graph
	for _, env := range p.EnvironmentNames() {
		g, err := Render(p, env)
		if err != nil {
			return nil, err
		}
		graphs = append(graphs, g)
	}
	var errs spec.Errors
	for _, x := range p.Parity.Exceptions {
		if x == nil {
			continue
		}
		var ids, attrs []string
		for _, g := range graphs {
			if len(x.Environments) > 0 && !slices.Contains(x.Environments, g.Environment) {
				continue
			}
			for _, n := range g.Nodes {
				if m, _ := path.Match(x.Resource, n.ID); !m {
					continue
				}
				ids = append(ids, n.ID)
				attrs = append(attrs, "kind")
				for k := range n.Attrs {
					attrs = append(attrs, k)
				}
				for _, e := range g.Edges {
					if e.From == n.ID {
						attrs = append(attrs, "edge "+e.Label+" "+e.To)
					}
				}
			}
		}
		slices.Sort(ids)
		slices.Sort(attrs)
		attrs = slices.Compact(attrs)
		e := exceptionError(x, "")
		e.File = p.File
		switch {
		case len(ids) == 0:
			e.Path += ".resource"
			e.Pos = x.ResourcePos
			e.Msg = fmt.Sprintf("resource %q matches no resource of any environment; belay parity %s names them (e.g. %s)", x.Resource, strings.Join(p.EnvironmentNames(), " "), example(graphs))
		case x.Attribute != "" && x.Attribute != "*" && !slices.Contains(attrs, x.Attribute):
			e.Path += ".attribute"
			e.Pos = x.AttributePos
			e.Msg = fmt.Sprintf("%s has no attribute %q in any environment; its attributes: %s", x.Resource, x.Attribute, strings.Join(attrs, ", "))
		default:
			continue
		}
		errs = append(errs, e)
	}
	for _, e := range errs {
		e.File = p.File
	}
	return errs, nil
}

func example(graphs []*Graph) string {
	if len(graphs) == 0 {
		return "none"
	}
	var ids []string
	for _, n := range graphs[0].Nodes {
		if len(ids) < 3 {
			ids = append(ids, n.ID)
		}
	}
	return strings.Join(ids, ", ")
}

// PrintText writes the report for a reader: each difference naming the
// resource, the attribute and both values; excused ones with their reason.
func (r *Report) PrintText(w io.Writer) {
	switch {
	case r.Equal:
		fmt.Fprintf(w, "%s and %s have the same shape (%d resources compared; sizes and addresses left out)\n", r.A, r.B, r.Resources)
	case len(r.Differences) == 0:
		fmt.Fprintf(w, "%s and %s have the same shape (%d resources compared), but %d exception(s) excuse nothing\n", r.A, r.B, r.Resources, len(r.Unused))
	default:
		fmt.Fprintf(w, "%s and %s differ in shape: %d difference(s) over %d resources\n", r.A, r.B, len(r.Differences), r.Resources)
	}
	for _, d := range r.Differences {
		fmt.Fprintf(w, "  %s\n", d.line(r))
	}
	for _, e := range r.Unused {
		fmt.Fprintf(w, "  %s\n", e.Error())
	}
	for _, d := range r.Excused {
		fmt.Fprintf(w, "  excused: %s (%s: %s)\n", d.line(r), d.Exception, d.Reason)
	}
}

func (d Difference) line(r *Report) string {
	switch {
	case d.Attribute == "" && d.A == Absent:
		return fmt.Sprintf("%s: only in %s", d.Resource, r.B)
	case d.Attribute == "":
		return fmt.Sprintf("%s: only in %s", d.Resource, r.A)
	case strings.HasPrefix(d.Attribute, "edge ") && d.A == Absent:
		return fmt.Sprintf("%s: %s only in %s", d.Resource, d.Attribute, r.B)
	case strings.HasPrefix(d.Attribute, "edge "):
		return fmt.Sprintf("%s: %s only in %s", d.Resource, d.Attribute, r.A)
	}
	return fmt.Sprintf("%s %s: %s %q, %s %q", d.Resource, d.Attribute, r.A, d.A, r.B, d.B)
}
