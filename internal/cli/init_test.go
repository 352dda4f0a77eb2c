package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/spec"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

func TestInitTemplateValidates(t *testing.T) {
	for _, name := range []string{"app", "billing-api", "x"} {
		p, err := spec.ParseProject("belay.yaml", []byte(InitTemplate(name)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Service(name) == nil || len(p.Environments) != 2 || len(p.Service(name).RollbackTrigger) != 3 {
			t.Errorf("%s: unexpected project %+v", name, p)
		}
		eff, err := p.Effective(name, "production")
		if err != nil || eff.Rollout.Watch.D() != 10*time.Minute || !eff.Rollout.KeepPrevious {
			t.Errorf("%s: production rollout %+v, %v; want the documented watch of 10m, keeping the previous stable", name, eff.Rollout, err)
		}
	}
}

// What init writes also passes the schema editors use.
func TestInitTemplateMatchesSchema(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(spec.SchemaJSON()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(spec.SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(spec.SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal([]byte(InitTemplate("app")), &v); err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(v)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(inst); err != nil {
		t.Error(err)
	}
}

// The template promises only what belay enforces.
func TestInitTemplateClaimsOnlyWhatIsEnforced(t *testing.T) {
	text := InitTemplate("app")
	for _, claim := range []string{"other than the release's author", "kubernetes"} {
		if strings.Contains(text, claim) {
			t.Errorf("template says %q, which belay does not enforce", claim)
		}
	}
}
