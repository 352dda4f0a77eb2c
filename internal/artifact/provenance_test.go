package artifact

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestProvenanceStatement(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	created := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	b := &Built{Digest: d, Started: created.Add(time.Hour), Finished: created.Add(time.Hour + time.Minute),
		Meta:    Metadata{Service: "api", Version: "api-2026.05.12-8f3a91c", Commit: "8f3a91c", Created: created, Source: "https://x/api.git"},
		Request: BuildRequest{Command: "make", Outputs: []string{"bin/api"}}}
	raw, err := provenanceStatement(b)
	if err != nil {
		t.Fatal(err)
	}
	st, err := checkStatement(raw, d)
	if err != nil {
		t.Fatal(err)
	}
	var p Provenance
	if err := json.Unmarshal(st.Predicate, &p); err != nil {
		t.Fatal(err)
	}
	if p.BuildDefinition.BuildType != BuildTypeBelay || p.RunDetails.Builder.ID == "" || !p.RunDetails.Metadata.StartedOn.Equal(b.Started) ||
		p.BuildDefinition.ResolvedDependencies[0].Digest["gitCommit"] != "8f3a91c" || p.BuildDefinition.ExternalParameters["command"] != "make" {
		t.Fatalf("predicate %+v", p)
	}
	other := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}
	if _, err := checkStatement(raw, other); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "signed provenance is for") {
		t.Fatalf("subject mismatch: %v", err)
	}
	if _, err := checkStatement([]byte(`{"_type":"x"}`), d); !errors.Is(err, ErrTampered) {
		t.Fatalf("not provenance: %v", err)
	}
}
