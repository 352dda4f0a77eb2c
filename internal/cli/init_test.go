package cli

import (
	"testing"

	"github.com/belay-dev/belay/internal/spec"
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
	}
}
