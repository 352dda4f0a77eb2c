// Package flag evaluates belay's feature flags: belay.yaml's definitions
// (spec.Flag), with the run-time overrides a person or a rollback set on
// top, for an evaluation context's targeting key, as flagd does.
package flag

import (
	"errors"
	"math"
	"time"

	"github.com/belay-dev/belay/internal/spec"
)

// Reasons, as OpenFeature names them.
const (
	ReasonStatic   = "STATIC"   // no targeting: the default variant
	ReasonSplit    = "SPLIT"    // a fractional split chose the variant
	ReasonDisabled = "DISABLED" // no value: the application's code default applies
	ReasonDefault  = "DEFAULT"  // an override pinned the variant
)

// ErrTargetingKeyMissing: the flag splits on a targeting key the context lacks.
var ErrTargetingKeyMissing = errors.New("TARGETING_KEY_MISSING")

// Override is a run-time change of a flag in one environment, kept on top
// of belay.yaml until removed: a state, a pinned variant, or both.
type Override struct {
	Environment string         `json:"environment"`
	Flag        string         `json:"flag"`
	State       spec.FlagState `json:"state,omitempty"`
	Variant     string         `json:"variant,omitempty"` // pins the variant for everyone
	Actor       string         `json:"actor"`             // a token's name, or "rollout/N" for a rollback action
	Reason      string         `json:"reason,omitempty"`
	At          time.Time      `json:"at"`
}

// Apply is f with o on top (o may be nil).
func Apply(f spec.Flag, o *Override) spec.Flag {
	if o == nil {
		return f
	}
	if o.State != "" {
		f.State = o.State
	}
	if o.Variant != "" {
		f.DefaultVariant, f.Targeting = o.Variant, nil
	}
	return f
}

// Evaluation is one flag's answer for one context.
type Evaluation struct {
	Key      string         `json:"key"`
	Value    any            `json:"value,omitempty"`
	Variant  string         `json:"variant,omitempty"`
	Reason   string         `json:"reason"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Evaluate answers flag key (f with its overrides applied) for
// targetingKey. A disabled flag has no value.
func Evaluate(key string, f spec.Flag, targetingKey string, overridden bool) (Evaluation, error) {
	ev := Evaluation{Key: key, Metadata: map[string]any{}}
	if f.Kind != "" {
		ev.Metadata["kind"] = string(f.Kind)
	}
	if overridden {
		ev.Metadata["overridden"] = true
	}
	if f.State == spec.FlagDisabled {
		ev.Reason = ReasonDisabled
		return ev, nil
	}
	ev.Variant, ev.Reason = f.DefaultVariant, ReasonStatic
	if overridden && f.Targeting == nil {
		ev.Reason = ReasonDefault
	}
	if t := f.Targeting; t != nil && len(t.Fractional) > 0 {
		if targetingKey == "" {
			return ev, ErrTargetingKeyMissing
		}
		ev.Variant, ev.Reason = Bucket(key, targetingKey, t.Fractional), ReasonSplit
	}
	ev.Value = f.Variants[ev.Variant]
	return ev, nil
}

// Bucket is the variant a split gives targetingKey, as flagd's fractional
// does by default: murmur3 (32 bit) of the flag key followed by the
// targeting key, read as a signed number, its magnitude scaled to
// [0, 100], and the first variant whose cumulative percent exceeds it.
func Bucket(flagKey, targetingKey string, split spec.Fractional) string {
	h := int32(murmur3([]byte(flagKey + targetingKey)))
	bucket := math.Abs(float64(h)) / math.MaxInt32 * 100
	end := 0.0
	for _, s := range split {
		end += s.Percent
		if bucket < end {
			return s.Variant
		}
	}
	return split[len(split)-1].Variant
}
