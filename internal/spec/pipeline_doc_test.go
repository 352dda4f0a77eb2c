package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file holding only pipeline: (a repository belay does not deploy) is a
// pipeline document: checked as a project's pipeline, without services.
func TestPipelineOnlyDocument(t *testing.T) {
	doc, err := Parse("pipeline.yaml", []byte("project: tool\npipeline:\n  pull_request: [lint]\n  steps:\n    lint: {run: go vet ./..., impact: block}\n"))
	if err != nil || doc.Kind != KindPipeline || doc.Project.Name != "tool" || len(doc.Project.Pipeline.PullRequest) != 1 {
		t.Fatalf("%+v, %v", doc, err)
	}
	_, err = Parse("pipeline.yaml", []byte("pipeline:\n  pull_request: [ship]\n  steps:\n    ship: {deploy: production, impact: block}\n"))
	if err == nil || !strings.Contains(err.Error(), `pipeline.steps.ship.deploy: environment "production" is not defined`) {
		t.Errorf("a deploy step without environments: %v", err)
	}
	path := filepath.Join(t.TempDir(), "pipeline.yaml")
	os.WriteFile(path, []byte("pipeline:\n  pull_request: [lint]\n  steps:\n    lint: {run: \"true\", impact: block}\n"), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "this is a pipeline, not a project") {
		t.Errorf("Load of a pipeline: %v", err)
	}
	if p, err := LoadPipeline(path); err != nil || p.Pipeline == nil {
		t.Errorf("LoadPipeline: %v", err)
	}
}
