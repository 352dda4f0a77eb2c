package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaJSON()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return s
}

// yamlInstance reads a YAML file as the JSON value a schema validator sees.
func yamlInstance(t *testing.T, path string) any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestSchemaAcceptsExamples(t *testing.T) {
	s := compileSchema(t)
	for _, f := range []string{"../../examples/case-study/belay.yaml", "../../examples/case-study/release-plan.yaml", "../../examples/hello/belay.yaml"} {
		if err := s.Validate(yamlInstance(t, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// The newer rollout, environment and analysis fields pass the schema when the
// loader takes them.
func TestSchemaAcceptsWatchAndPolicies(t *testing.T) {
	doc := `
services:
  api:
    run: {command: bin/api}
    health_check: {http: {path: /healthz}}
    rollout: {strategy: canary, steps: [{weight: 10%}, {weight: 100%}], watch: 10m, keep_previous: false}
    rollback_trigger: [error_rate > 1% for 5m]
    rollback_action: deploy previous_stable
    analysis: {test: none}
    environments:
      production: {rollout: {strategy: staged, watch: 1h30m, keep_previous: true}}
environments:
  - {name: staging, on_rejected_downstream: rollback}
  - {name: production, protection: {branches: [main, "release/*"], tags: ["v*"]}}
`
	if _, err := ParseProject("belay.yaml", []byte(doc)); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "belay.yaml")
	if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := compileSchema(t).Validate(yamlInstance(t, f)); err != nil {
		t.Error(err)
	}
}

// Shape errors that the loader rejects are rejected by the schema too, so an
// editor flags them while typing.
func TestSchemaRejectsShapeErrors(t *testing.T) {
	s := compileSchema(t)
	for _, name := range []string{"unknown-top-key", "unknown-service-key", "wrong-type-int", "wrong-type-mapping",
		"percent-over-100", "bad-duration", "unknown-strategy", "unknown-impact",
		"release-plan-bad-version", "release-plan-migration-type", "rollback-action-unknown", "missing-required",
		"watch-without-unit", "watch-negative", "kubernetes-unknown-traffic", "on-rejected-downstream-unknown",
		"step-weight-and-shadow", "shadow-over-100", "shadow-unknown-method", "protection-refs"} {
		f := filepath.Join("testdata", name+".bad.yaml")
		if err := s.Validate(yamlInstance(t, f)); err == nil {
			t.Errorf("%s: schema accepted it", f)
		}
	}
}

// Every trigger the parser accepts passes the schema's pattern, and the
// commonest mistakes do not. (A misspelt metric name passes: it may name a
// metric of metrics:, which the schema cannot see; belay validate names it.)
func TestSchemaTriggerPattern(t *testing.T) {
	s := Schema()
	defs := s["$defs"].(map[string]any)
	svc := defs["Service"].(map[string]any)["properties"].(map[string]any)
	pat := svc["rollback_trigger"].(map[string]any)["items"].(map[string]any)["pattern"].(string)
	re := regexp.MustCompile(pat)
	for _, ok := range []string{"error_rate > 1% for 5m", "error_rate>1%", "p95_latency >= baseline+20%", "health_check_failures > 3", "queue_depth > 1000 for 5m"} {
		if _, err := ParseTriggerWith(ok, map[string]Kind{"queue_depth": KindCount}); err != nil || !re.MatchString(ok) {
			t.Errorf("%q: parse %v, pattern %v", ok, err, re.MatchString(ok))
		}
	}
	for _, bad := range []string{"Latency > 1s", "error_rate => 1%", "error_rate 1%", "error_rate >"} {
		if re.MatchString(bad) {
			t.Errorf("%q matches the pattern", bad)
		}
	}
}
