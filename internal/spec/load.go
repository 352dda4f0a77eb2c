package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DocKind says what a YAML document is, recognised by its top-level keys.
type DocKind string

// Document kinds.
const (
	KindProject     DocKind = "project"      // a belay.yaml
	KindReleasePlan DocKind = "release_plan" // a file holding only release_plan:
	// KindPipeline is a file holding only pipeline: (and project:), for a
	// repository that belay does not deploy but whose CI runs belay ci.
	KindPipeline DocKind = "pipeline"
)

// Document is a parsed file of either kind.
type Document struct {
	Kind        DocKind      `json:"kind"`
	Project     *Project     `json:"project,omitempty"`
	ReleasePlan *ReleasePlan `json:"release_plan,omitempty"`
}

// maxFileSize refuses files no belay.yaml needs to be, before parsing them.
const maxFileSize = 4 << 20

// LoadDocument reads and checks a belay.yaml or a release plan file.
func LoadDocument(path string) (*Document, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Load reads and checks a belay.yaml project file.
func Load(path string) (*Project, error) {
	doc, err := LoadDocument(path)
	if err != nil {
		return nil, err
	}
	if doc.Kind != KindProject {
		return nil, Errors{{File: path, Pos: Pos{1, 1}, Msg: fmt.Sprintf("this is a %s, not a project: pass the project's belay.yaml", strings.ReplaceAll(string(doc.Kind), "_", " "))}}
	}
	return doc.Project, nil
}

// LoadPipeline reads a file with a pipeline: a project, or a file holding
// only pipeline: (its Project then has no services or environments).
func LoadPipeline(path string) (*Project, error) {
	doc, err := LoadDocument(path)
	if err != nil {
		return nil, err
	}
	if doc.Kind == KindReleasePlan {
		return nil, Errors{{File: path, Pos: Pos{1, 1}, Msg: "this is a release plan, not a pipeline: pass the project's belay.yaml"}}
	}
	return doc.Project, nil
}

// LoadReleasePlan reads and checks a file holding a release_plan block.
func LoadReleasePlan(path string) (*ReleasePlan, error) {
	doc, err := LoadDocument(path)
	if err != nil {
		return nil, err
	}
	if doc.Kind != KindReleasePlan {
		return nil, Errors{{File: path, Pos: Pos{1, 1}, Msg: "this is a project, not a release plan: expected a file whose only top-level key is release_plan"}}
	}
	return doc.ReleasePlan, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read belay document: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read belay document: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("file is larger than %d MiB; a belay document is a few KiB", maxFileSize>>20)}}
	}
	return data, nil
}

// Parse checks data, named name in messages, as a project or a release plan.
// Its error is an Errors listing every problem found, sorted by position.
func Parse(name string, data []byte) (*Document, error) {
	root, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	d := newDecoder(name)
	doc := &Document{Kind: kindOf(root)}
	if doc.Kind == KindPipeline {
		var pd pipelineDoc
		d.decode(root, "", reflect.ValueOf(&pd).Elem(), nil)
		p := &Project{File: name, Name: pd.Name, Pipeline: pd.Pipeline}
		d.checkPipeline(p)
		doc.Project = p
	} else if doc.Kind == KindReleasePlan {
		var rd releasePlanDoc
		d.decode(root, "", reflect.ValueOf(&rd).Elem(), nil)
		d.checkReleasePlan("release_plan", rd.ReleasePlan, nil)
		if rd.ReleasePlan != nil {
			rd.ReleasePlan.File = name
		}
		doc.ReleasePlan = rd.ReleasePlan
	} else {
		p := &Project{File: name}
		d.decode(root, "", reflect.ValueOf(p).Elem(), nil)
		d.checkProject(p)
		p.pos = d.pos
		doc.Project = p
	}
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	if doc.Project != nil {
		doc.Project.applyDefaults()
	}
	return doc, nil
}

// ParseProject is Parse for a belay.yaml held in memory.
func ParseProject(name string, data []byte) (*Project, error) {
	doc, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	if doc.Kind != KindProject {
		return nil, Errors{{File: name, Pos: Pos{1, 1}, Msg: fmt.Sprintf("this is a %s, not a project", strings.ReplaceAll(string(doc.Kind), "_", " "))}}
	}
	return doc.Project, nil
}

// kindOf recognises a release plan by its release_plan key and the absence
// of every key only a project has; anything else is read as a project.
func kindOf(root *yaml.Node) DocKind {
	plan, pipeline := false, false
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch k := root.Content[i].Value; k {
		case "release_plan":
			plan = true
		case "pipeline":
			pipeline = true
		case "project":
		case "service_stack", "artifacts", "analysis", "services", "environments", "flags":
			return KindProject
		}
	}
	switch {
	case plan && !pipeline:
		return KindReleasePlan
	case pipeline && !plan:
		return KindPipeline
	}
	return KindProject
}

// pipelineDoc is a file holding only a pipeline.
type pipelineDoc struct {
	Name     string    `yaml:"project"`
	Pipeline *Pipeline `yaml:"pipeline" belay:"required"`
}

// parseYAML returns the root node of the single document in data.
func parseYAML(name string, data []byte) (*yaml.Node, error) {
	fail := func(line, col int, format string, args ...any) error {
		return Errors{{File: name, Pos: Pos{line, col}, Msg: fmt.Sprintf(format, args...)}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fail(1, 1, "empty document: expected a belay.yaml mapping (services:, environments:, …) or a release_plan: block")
		}
		return nil, syntaxError(name, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fail(extra.Line, extra.Column, "more than one YAML document (---): put one project or release plan per file")
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(name, data, err)
	}
	if len(doc.Content) == 0 {
		return nil, fail(1, 1, "empty document: expected a belay.yaml mapping (services:, environments:, …) or a release_plan: block")
	}
	root := doc.Content[0]
	for root.Kind == yaml.AliasNode {
		root = root.Alias
	}
	if isNull(root) {
		return nil, fail(root.Line, root.Column, "empty document: expected a belay.yaml mapping (services:, environments:, …) or a release_plan: block")
	}
	if root.Kind != yaml.MappingNode {
		return nil, fail(root.Line, root.Column, "expected a mapping of top-level keys (services:, environments:, … or release_plan:), got %s", describe(root))
	}
	return root, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are yaml.v3 parser (not scanner) errors; for these it
// reports a 0-based line, so one is added.
var parserProblems = []string{
	"did not find expected <document start>", "did not find expected node content",
	"did not find expected key", "did not find expected '-' indicator",
	"did not find expected ',' or ']'", "did not find expected ',' or '}'",
	"found duplicate %YAML directive", "found incompatible YAML document", "found duplicate %TAG directive",
}

// syntaxError turns a yaml.v3 parse error into file:line form, with a hint
// for the commonest cause, tabs. yaml.v3 does not say the column, so none is
// given rather than a wrong one.
func syntaxError(name string, data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if contains(parserProblems, msg) {
			line++
		}
	}
	lines := strings.Split(string(data), "\n")
	for _, l := range []int{line, line - 1, line + 1} {
		if l >= 1 && l <= len(lines) {
			if i := strings.IndexByte(lines[l-1], '\t'); i >= 0 && strings.TrimSpace(lines[l-1][:i]) == "" {
				return Errors{{File: name, Pos: Pos{l, i + 1}, Msg: "YAML syntax error: tab character in indentation; indent with spaces"}}
			}
		}
	}
	return Errors{{File: name, Pos: Pos{Line: line}, Msg: "YAML syntax error: " + msg}}
}
