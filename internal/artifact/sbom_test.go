package artifact

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSBOMFromLockFiles(t *testing.T) {
	dir := t.TempDir()
	gosum := "github.com/a/b v1.2.0 h1:x=\ngithub.com/a/b v1.2.0/go.mod h1:y=\ngolang.org/x/c v0.3.0/go.mod h1:z=\n"
	lock := `{"name":"web","lockfileVersion":3,"packages":{"":{"name":"web"},"node_modules/left-pad":{"version":"1.3.0"},"node_modules/@scope/pkg":{"version":"2.0.0"}}}`
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), []byte(gosum), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte(lock), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "index.html")
	if err := os.WriteFile(out, []byte("<html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	meta := Metadata{Service: "web", Version: "web-2026.05.12-abc1234", Commit: "abc1234", Created: time.Date(2026, 5, 12, 0, 0, 0, 0, time.UTC)}
	b, err := MakeSBOM(meta, []File{{Name: "index.html", Source: out}}, dir)
	if err != nil {
		t.Fatal(err)
	}
	var doc spdxDocument
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var purls []string
	for _, p := range doc.Packages[1:] {
		purls = append(purls, p.ExternalRefs[0].Locator)
	}
	want := "pkg:golang/github.com/a/b@v1.2.0 pkg:npm/%40scope/pkg@2.0.0 pkg:npm/left-pad@1.3.0"
	if got := strings.Join(purls, " "); got != want {
		t.Fatalf("purls %s, want %s", got, want)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.CreationInfo.Created != "2026-05-12T00:00:00Z" || len(doc.Relationships) != 4 {
		t.Fatalf("document %+v", doc)
	}
	again, _ := MakeSBOM(meta, []File{{Name: "index.html", Source: out}}, dir)
	if string(again) != string(b) {
		t.Fatal("SBOM is not deterministic")
	}
}

func TestSBOMBadLockFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "package-lock.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := MakeSBOM(Metadata{}, nil, dir); err == nil || !strings.Contains(err.Error(), "package-lock.json") {
		t.Fatalf("bad lock file: %v", err)
	}
}
