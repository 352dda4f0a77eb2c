package artifact

import (
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// in-toto and SLSA identifiers.
const (
	StatementType  = "https://in-toto.io/Statement/v1"
	PredicateSLSA  = "https://slsa.dev/provenance/v1"
	BuildTypeBelay = "https://belay.dev/build/v1"
	BuilderIDBelay = "https://belay.dev/builder/local"
)

// Statement is an in-toto Statement v1.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject names an artifact by digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Provenance is the SLSA provenance v1 predicate.
type Provenance struct {
	BuildDefinition struct {
		BuildType            string               `json:"buildType"`
		ExternalParameters   map[string]any       `json:"externalParameters"`
		InternalParameters   map[string]any       `json:"internalParameters,omitempty"`
		ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies,omitempty"`
	} `json:"buildDefinition"`
	RunDetails struct {
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
		Metadata struct {
			InvocationID string    `json:"invocationId,omitempty"`
			StartedOn    time.Time `json:"startedOn"`
			FinishedOn   time.Time `json:"finishedOn"`
		} `json:"metadata"`
	} `json:"runDetails"`
}

// ResourceDescriptor is SLSA's reference to an input.
type ResourceDescriptor struct {
	Name   string            `json:"name,omitempty"`
	URI    string            `json:"uri,omitempty"`
	Digest map[string]string `json:"digest"`
}

// provenanceStatement describes how b was built, with the image manifest as
// its subject.
func provenanceStatement(b *Built) ([]byte, error) {
	var p Provenance
	p.BuildDefinition.BuildType = BuildTypeBelay
	p.BuildDefinition.ExternalParameters = map[string]any{
		"service": b.Meta.Service, "commit": b.Meta.Commit, "command": b.Request.Command,
		"outputs": b.Request.Outputs, "dirty": b.Meta.Dirty,
	}
	if len(b.Refs) > 0 {
		// As GitHub's provenance records its workflow's ref: the policy of a
		// protected environment reads it here, under the signature.
		p.BuildDefinition.ExternalParameters["refs"] = b.Refs
	}
	p.BuildDefinition.InternalParameters = map[string]any{"SOURCE_DATE_EPOCH": b.Meta.Created.Unix()}
	src := ResourceDescriptor{Name: "source", Digest: map[string]string{"gitCommit": b.Meta.Commit}}
	if b.Meta.Source != "" {
		src.URI = "git+" + b.Meta.Source + "@" + b.Meta.Commit
	}
	p.BuildDefinition.ResolvedDependencies = []ResourceDescriptor{src}
	if b.Base != nil {
		p.BuildDefinition.ExternalParameters["base"] = b.Base.Ref
		p.BuildDefinition.ResolvedDependencies = append(p.BuildDefinition.ResolvedDependencies, ResourceDescriptor{
			Name: "base", URI: "oci://" + b.Base.Ref, Digest: map[string]string{b.Base.Digest.Algorithm: b.Base.Digest.Hex},
		})
	}
	p.RunDetails.Builder.ID = BuilderIDBelay
	p.RunDetails.Metadata.InvocationID = fmt.Sprintf("%s@%d", b.Meta.Version, b.Started.UnixNano())
	p.RunDetails.Metadata.StartedOn, p.RunDetails.Metadata.FinishedOn = b.Started, b.Finished
	pred, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: b.Meta.Version, Digest: map[string]string{b.Digest.Algorithm: b.Digest.Hex}}},
		PredicateType: PredicateSLSA,
		Predicate:     pred,
	})
}

// checkStatement checks that a signed statement is SLSA provenance whose
// subject is the manifest digest.
func checkStatement(payload []byte, manifest v1.Hash) (Statement, error) {
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return st, fmt.Errorf("%w: the signed payload is not an in-toto statement: %v", ErrTampered, err)
	}
	if st.Type != StatementType || st.PredicateType != PredicateSLSA {
		return st, fmt.Errorf("%w: the signed statement is %s / %s, not SLSA provenance", ErrTampered, st.Type, st.PredicateType)
	}
	for _, s := range st.Subject {
		if s.Digest[manifest.Algorithm] == manifest.Hex {
			return st, nil
		}
	}
	var names []string
	for _, s := range st.Subject {
		names = append(names, fmt.Sprintf("%s sha256:%s", s.Name, s.Digest["sha256"]))
	}
	return st, fmt.Errorf("%w: manifest is %s but the signed provenance is for %v: the manifest changed after signing", ErrTampered, manifest, names)
}

// refsOf is the git refs a provenance statement records (none for one made
// before belay recorded them, or for a dirty build).
func refsOf(st Statement) []string {
	var p struct {
		BuildDefinition struct {
			ExternalParameters struct {
				Refs []string `json:"refs"`
			} `json:"externalParameters"`
		} `json:"buildDefinition"`
	}
	if json.Unmarshal(st.Predicate, &p) != nil {
		return nil
	}
	return p.BuildDefinition.ExternalParameters.Refs
}

// baseOf is the base image a provenance statement records, if any.
func baseOf(st Statement) *ResourceDescriptor {
	var p Provenance
	if json.Unmarshal(st.Predicate, &p) != nil {
		return nil
	}
	for _, d := range p.BuildDefinition.ResolvedDependencies {
		if d.Name == "base" {
			return &d
		}
	}
	return nil
}
