package spec

import (
	"testing"
)

func TestExamplesLoad(t *testing.T) {
	for _, f := range []string{"../../examples/case-study/belay.yaml", "../../examples/hello/belay.yaml"} {
		p, err := Load(f)
		if err != nil {
			t.Fatalf("%s:\n%v", f, err)
		}
		if len(p.Services) != 1 || len(p.Environments) != 2 {
			t.Errorf("%s: %d services, %d environments", f, len(p.Services), len(p.Environments))
		}
	}
	rp, err := LoadReleasePlan("../../examples/case-study/release-plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if rp.Version.String() != "api-2026.05.12-8f3a91c" || len(rp.RollbackTrigger) != 3 {
		t.Errorf("release plan: %+v", rp)
	}
}
