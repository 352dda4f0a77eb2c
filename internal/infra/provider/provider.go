// Package provider is the contract between belay's infrastructure engine
// (internal/infra) and the servers it manages, modelled on Crossplane's
// external client: Observe never changes anything and reports whether the
// resource exists and the fields belay owns as the server has them; Create,
// Update and Delete make the server match a spec and are idempotent, so an
// interrupted apply may simply run again.
package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// Fields are the fields of a resource that belay owns, by name, each in the
// normal form its provider reports (a sorted list joined by commas, "-1"
// for no limit, …), so that a spec and an observation compare as strings.
type Fields map[string]string

// Hash is the hex SHA-256 of f's canonical JSON.
func (f Fields) Hash() string {
	b, _ := json.Marshal(f) // map keys are sorted
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Resource is one resource of a kind, by its external name.
type Resource struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Spec Fields `json:"spec"`
}

// ID is "kind/name".
func (r Resource) ID() string { return r.Kind + "/" + r.Name }

// Observation is what Observe found.
type Observation struct {
	Exists bool
	// Fields are the owned fields as the server has them (only when Exists).
	Fields Fields
}

// Provider manages resources of some kinds on one server.
type Provider interface {
	// Kinds are the kinds it manages.
	Kinds() []string
	// Observe reports r as the server has it; it never changes anything.
	Observe(ctx context.Context, r Resource) (Observation, error)
	// Create makes r; when r already exists it makes it match r.Spec.
	Create(ctx context.Context, r Resource) error
	// Update makes an existing r match r.Spec.
	Update(ctx context.Context, r Resource) error
	// Delete removes r; a missing r is not an error.
	Delete(ctx context.Context, r Resource) error
	// Close releases its connections.
	Close() error
}

// FieldDiff is one field that differs.
type FieldDiff struct {
	Field string `json:"field"`
	From  string `json:"from"`            // as found (or last applied)
	To    string `json:"to"`              // as wanted
	Unset bool   `json:"unset,omitempty"` // From is absent
}

// Diff lists the fields of want whose value in got differs, by field name.
// Fields got has beyond want are not belay's and are ignored.
func Diff(want, got Fields) []FieldDiff {
	var out []FieldDiff
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[k]
		if !ok || g != want[k] {
			out = append(out, FieldDiff{Field: k, From: g, To: want[k], Unset: !ok})
		}
	}
	return out
}

// Masked is what a sensitive field's value is shown as.
const Masked = "(changed)"

// Sensitive reports whether a field's value derives from a secret (the
// SHA-256 of a password, unsalted): by convention its name begins with
// "password" (Redis's password_sha256). Its value is compared and applied
// but never shown: plans, drift, events and evidence show Masked.
func Sensitive(field string) bool { return strings.HasPrefix(field, "password") }

// Mask returns f with sensitive fields' values Masked (f when it has none).
func (f Fields) Mask() Fields {
	var out Fields
	for k := range f {
		if Sensitive(k) {
			if out == nil {
				out = maps.Clone(f)
			}
			out[k] = Masked
		}
	}
	if out == nil {
		return f
	}
	return out
}

// MaskDiffs returns ds with sensitive fields' values Masked.
func MaskDiffs(ds []FieldDiff) []FieldDiff {
	out := slices.Clone(ds)
	for i, d := range out {
		if Sensitive(d.Field) {
			out[i].From, out[i].To = Masked, Masked
		}
	}
	return out
}
