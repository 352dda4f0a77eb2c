package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// OFREP's OpenAPI document (testdata/ofrep, copied from the protocol's
// repository) is the reference: every answer of both endpoints must be a
// status the document lists for the operation, with the headers it names,
// and a body its schema for that status accepts.

// ofrepSpecURL names the document as a JSON Schema resource.
const ofrepSpecURL = "https://belay.invalid/ofrep/openapi.json"

// openAPIResource reads an OpenAPI 3.1 document as one JSON Schema
// resource: 3.1's schemas are JSON Schema 2020-12 and its $refs are JSON
// pointers into the document, so the schemas need no rewriting, only the
// YAML turned into JSON values, and then the patches applied.
func openAPIResource(doc []byte, patches map[string]func(map[string]any)) (any, error) {
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	schemas, _ := dig(out, "components", "schemas").(map[string]any)
	for name, patch := range patches {
		s, ok := schemas[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("patch of components.schemas.%s: the document has no such schema", name)
		}
		patch(s)
	}
	return out, nil
}

// dig is v's value at path, nil where there is none.
func dig(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// ofrepPatches mend OFREP v0.3.0's evaluationSuccess, whose oneOf of value
// types no answer with a value can pass as JSON Schema reads it: the empty
// codeDefaultFlag accepts any object, and an integer is a number too, so
// every value matches two branches. codeDefaultFlag gets what its
// description says (no value), and the value types become an anyOf.
var ofrepPatches = map[string]func(map[string]any){
	"codeDefaultFlag": func(s map[string]any) {
		s["not"] = map[string]any{"required": []any{"value"}}
	},
	"evaluationSuccess": func(s map[string]any) {
		types := s["allOf"].([]any)[1].(map[string]any)
		types["anyOf"] = types["oneOf"]
		delete(types, "oneOf")
	},
}

// ofrepSpec is OFREP's document compiled: operations by path.
type ofrepSpec struct {
	doc any
	c   *jsonschema.Compiler
}

func loadOFREPSpec(t *testing.T) *ofrepSpec {
	t.Helper()
	b, err := os.ReadFile("testdata/ofrep/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openAPIResource(b, ofrepPatches)
	if err != nil {
		t.Fatal(err)
	}
	if v := dig(doc, "info", "version"); v != "0.3.0" {
		t.Fatalf("OFREP document version %v: the tests are written for 0.3.0", v)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(ofrepSpecURL, doc); err != nil {
		t.Fatal(err)
	}
	return &ofrepSpec{doc: doc, c: c}
}

// check holds an answer to operation path (as the document names it) to
// the document.
func (o *ofrepSpec) check(t *testing.T, name, path string, resp *http.Response, body []byte) {
	t.Helper()
	code := strconv.Itoa(resp.StatusCode)
	r, ok := dig(o.doc, "paths", path, "post", "responses", code).(map[string]any)
	if !ok {
		t.Errorf("%s: status %s is not one OFREP lists for POST %s (body %s)", name, code, path, body)
		return
	}
	headers, _ := r["headers"].(map[string]any)
	for h := range headers {
		if resp.Header.Get(h) == "" {
			t.Errorf("%s: %s answer without the %s header OFREP names", name, code, h)
		}
	}
	if dig(r, "content") == nil {
		if code == "304" && len(body) != 0 {
			t.Errorf("%s: 304 with a body: %s", name, body)
		}
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", name, ct)
	}
	ptr := "#/paths/" + jsonPointerToken(path) + "/post/responses/" + code + "/content/application~1json/schema"
	sch, err := o.c.Compile(ofrepSpecURL + ptr)
	if err != nil {
		t.Fatalf("%s: compile %s: %v", name, ptr, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("%s: body is not JSON: %v: %s", name, err, body)
		return
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("%s: %s answer does not match OFREP's schema: %v\nbody: %s", name, code, err, body)
	}
}

// jsonPointerToken escapes s as one token of a JSON pointer in a URI
// fragment (RFC 6901 sections 4 and 6).
func jsonPointerToken(s string) string {
	s = strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
	return strings.NewReplacer("{", "%7B", "}", "%7D").Replace(s)
}

// TestOpenAPIResource: the converter reads YAML as JSON values, finds
// the schemas, applies patches and refuses a patch of a schema not there.
func TestOpenAPIResource(t *testing.T) {
	doc := []byte("components:\n  schemas:\n    n: {type: integer, maximum: 3}\n")
	v, err := openAPIResource(doc, map[string]func(map[string]any){"n": func(s map[string]any) { s["minimum"] = json.Number("1") }})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(dig(v, "components", "schemas", "n"))
	if string(b) != `{"maximum":3,"minimum":1,"type":"integer"}` {
		t.Errorf("converted: %s", b)
	}
	if _, err := openAPIResource(doc, map[string]func(map[string]any){"m": func(map[string]any) {}}); err == nil || !strings.Contains(err.Error(), "components.schemas.m") {
		t.Errorf("patch of a missing schema: %v", err)
	}
	if jsonPointerToken("/ofrep/v1/evaluate/flags/{key}") != "~1ofrep~1v1~1evaluate~1flags~1%7Bkey%7D" {
		t.Error(jsonPointerToken("/ofrep/v1/evaluate/flags/{key}"))
	}
}

// TestOFREPPatchesNeeded: the patches mend what the document gets wrong
// and nothing else; drop them once the document's oneOf holds.
func TestOFREPPatchesNeeded(t *testing.T) {
	b, err := os.ReadFile("testdata/ofrep/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openAPIResource(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(ofrepSpecURL, doc); err != nil {
		t.Fatal(err)
	}
	sch := c.MustCompile(ofrepSpecURL + "#/components/schemas/evaluationSuccess")
	v, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"key": "k", "reason": "STATIC", "value": true}`))
	if sch.Validate(v) == nil {
		t.Error("OFREP's evaluationSuccess now accepts a boolean value as written: drop ofrepPatches")
	}
	patched := loadOFREPSpec(t).c.MustCompile(ofrepSpecURL + "#/components/schemas/evaluationSuccess")
	for body, ok := range map[string]bool{
		`{"key": "k", "reason": "STATIC", "value": true}`:          true,
		`{"key": "k", "reason": "STATIC", "value": 3}`:             true,
		`{"key": "k", "reason": "DISABLED"}`:                       true,
		`{"key": "k", "reason": "STATIC", "value": [1]}`:           false, // no array type
		`{"key": "k", "reason": "DEFAULT", "value": true}`:         false, // not one of OFREP's reasons
		`{"key": "k", "reason": "STATIC", "value": null}`:          false,
		`{"reason": "STATIC", "value": "x"}`:                       false,
		`{"key": "k", "reason": "STATIC", "metadata": {"a": [1]}}`: false,
	} {
		v, _ := jsonschema.UnmarshalJSON(strings.NewReader(body))
		if err := patched.Validate(v); (err == nil) != ok {
			t.Errorf("%s: valid %v, want %v (%v)", body, err == nil, ok, err)
		}
	}
}

// TestOFREPConformance: each answer of both endpoints, success and
// refusal, against OFREP's document.
func TestOFREPConformance(t *testing.T) {
	o := loadOFREPSpec(t)
	r := newOFREPRig(t)
	web := bearer(r.token("web", "production"))
	everywhere := bearer(r.token("everywhere"))
	const single, bulk = "/ofrep/v1/evaluate/flags/{key}", "/ofrep/v1/evaluate/flags"
	flagPath := func(key string) string { return strings.Replace(single, "{key}", key, 1) }
	user := `{"context": {"targetingKey": "user-42", "country": "CA"}}`
	for _, key := range []string{"new-checkout", "banner-text", "checkout-split", "risky-path", "max-items", "ratio", "limits"} {
		resp, body := r.post(flagPath(key), user, web...)
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", key, resp.StatusCode, body)
		}
		o.check(t, key, single, resp, body)
	}
	for _, c := range []struct{ name, key, body string }{
		{"unknown flag", "nope", user},
		{"not JSON", "new-checkout", `{`},
		{"no context", "new-checkout", `{}`},
		{"no targetingKey", "checkout-split", `{"context": {}}`},
	} {
		resp, body := r.post(flagPath(c.key), c.body, web...)
		o.check(t, c.name, single, resp, body)
	}
	resp, body := r.post(flagPath("new-checkout"), user, everywhere...)
	o.check(t, "token for every environment", single, resp, body)
	resp, body = r.post(flagPath("new-checkout")+"?access_token=x", user, web...)
	o.check(t, "token in the URL", single, resp, body)

	resp, body = r.post(bulk, `{"context": {}}`, web...)
	o.check(t, "bulk", bulk, resp, body)
	etag := resp.Header.Get("ETag")
	resp, body = r.post(bulk, `{"context": {}}`, append(web, "If-None-Match", etag)...)
	if resp.StatusCode != 304 {
		t.Errorf("bulk If-None-Match: %d", resp.StatusCode)
	}
	o.check(t, "bulk 304", bulk, resp, body)
	resp, body = r.post(bulk, user, web...)
	o.check(t, "bulk for a user", bulk, resp, body)
	resp, body = r.post(bulk, `{"context": 1}`, web...)
	o.check(t, "bulk bad context", bulk, resp, body)
	resp, body = r.post(bulk, `{"context": {}}`, everywhere...)
	o.check(t, "bulk token for every environment", bulk, resp, body)

	// A belay.yaml that does not load is the server's fault: 500.
	good, _ := os.ReadFile(r.project)
	if err := os.WriteFile(r.project, append(good, "\nnonsense: [\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, body = r.post(flagPath("new-checkout"), user, web...)
	o.check(t, "broken belay.yaml", single, resp, body)
	resp, body = r.post(bulk, user, web...)
	o.check(t, "bulk broken belay.yaml", bulk, resp, body)
	if err := os.WriteFile(r.project, good, 0o644); err != nil {
		t.Fatal(err)
	}

	// Unauthenticated, then slowed down: 401s, then a 429 with Retry-After.
	ghost := "belay_" + strings.Repeat("A", len(web[1])-len("Bearer belay_"))
	for range failBurst + 2 {
		resp, body = r.post(flagPath("new-checkout"), user, "X-API-Key", ghost)
		o.check(t, "unknown key", single, resp, body)
		resp, body = r.post(bulk, user, "X-API-Key", ghost)
		o.check(t, "bulk unknown key", bulk, resp, body)
	}
	if resp.StatusCode != 429 {
		t.Errorf("never slowed down: %d", resp.StatusCode)
	}
}
