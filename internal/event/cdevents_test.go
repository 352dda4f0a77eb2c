package event

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestCDEventsSchemas renders each mapped event and validates it against
// the CDEvents v0.5.1 JSON schemas (testdata/cdevents, Apache-2.0).
func TestCDEventsSchemas(t *testing.T) {
	schemas := cdeventsSchemas(t)
	first := promoted
	first.PreviousStable = ""
	rolled := promoted
	rolled.Event, rolled.ID = DeploymentRolledBack, "rollout/8/seq/4"
	published := Event{ID: "belay-event-3", Event: ArtifactPublished, Time: promoted.Time, Service: "api", Version: promoted.Version, Digest: promoted.Digest}
	for _, tc := range []struct {
		e        Event
		typ, art string
	}{
		{first, CDServiceDeployed, "pkg:oci/api@sha256%3A" + strings.Repeat("ab", 32) + "?tag=api-2026.05.12-8f3a91c"},
		{promoted, CDServiceUpgraded, "pkg:oci/api@sha256%3A" + strings.Repeat("ab", 32) + "?tag=api-2026.05.12-8f3a91c"},
		{rolled, CDServiceRolledBack, "pkg:generic/api@api-2026.05.11-1b2c3d4"}, // what runs afterwards
		{published, CDArtifactPublished, ""},
	} {
		var got CloudEvent
		var body []byte
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body = must(io.ReadAll(r.Body))
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/cloudevents+json") {
				t.Errorf("Content-Type %q", ct)
			}
		}))
		c := &CDEvents{Name: "cd", URL: srv.URL, Source: "/belay/shop"}
		if !c.Wants(tc.e) {
			t.Fatalf("%s not wanted", tc.e.Event)
		}
		if err := c.Emit(t.Context(), tc.e); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if got.SpecVersion != "1.0" || got.Type != tc.typ || got.ID != tc.e.ID || got.Source != "/belay/shop" || got.Subject != got.Data.Subject.ID || !got.Time.Equal(tc.e.Time) {
			t.Errorf("%s: CloudEvent attributes %+v", tc.e.Event, got)
		}
		if a, _ := got.Data.Subject.Content["artifactId"].(string); a != tc.art {
			t.Errorf("%s: artifactId %q, want %q", tc.e.Event, a, tc.art)
		}
		var data struct {
			Data any `json:"data"`
		}
		if err := json.Unmarshal(body, &data); err != nil {
			t.Fatal(err)
		}
		doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(must(json.Marshal(data.Data))))
		if err := schemas[tc.typ].Validate(doc); err != nil {
			t.Errorf("%s as %s does not validate: %v\n%s", tc.e.Event, tc.typ, err, body)
		}
	}
	if (&CDEvents{}).Wants(Event{Event: CanaryStep}) {
		t.Error("a canary step has no CDEvents type")
	}
}

func cdeventsSchemas(t *testing.T) map[string]*jsonschema.Schema {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	links, _ := filepath.Glob("testdata/cdevents/links/*.json")
	files := map[string]string{CDServiceDeployed: "servicedeployed", CDServiceUpgraded: "serviceupgraded",
		CDServiceRolledBack: "servicerolledback", CDArtifactPublished: "artifactpublished"}
	ids := map[string]string{}
	for _, f := range links {
		ids[f] = addSchema(t, c, f)
	}
	for typ, name := range files {
		ids[typ] = addSchema(t, c, "testdata/cdevents/"+name+".json")
	}
	out := map[string]*jsonschema.Schema{}
	for typ := range files {
		s, err := c.Compile(ids[typ])
		if err != nil {
			t.Fatal(err)
		}
		out[typ] = s
	}
	return out
}

func addSchema(t *testing.T, c *jsonschema.Compiler, file string) string {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(must(os.ReadFile(file))))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := doc.(map[string]any)["$id"].(string)
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	return id
}
