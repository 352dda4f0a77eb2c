package flag

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/belay-dev/belay/internal/spec"
)

func checkout() spec.Flag {
	return spec.Flag{Kind: spec.FlagRelease, State: spec.FlagEnabled, DefaultVariant: "off",
		Variants:  spec.FlagVariants{"on": true, "off": false},
		Targeting: &spec.FlagTargeting{Fractional: spec.Fractional{{Variant: "on", Percent: 10}, {Variant: "off", Percent: 90}}}}
}

// 10 000 targeting keys at 10 %: within ±1 %, and a key always gets the
// same variant.
func TestFractionalSplit(t *testing.T) {
	f := checkout()
	on := 0
	for i := range 10000 {
		key := fmt.Sprintf("user-%d", i)
		ev, err := Evaluate("checkout_v2", f, key, false)
		if err != nil || ev.Reason != ReasonSplit {
			t.Fatalf("%s: %+v %v", key, ev, err)
		}
		if again, _ := Evaluate("checkout_v2", f, key, false); again.Variant != ev.Variant {
			t.Fatalf("%s got %s, then %s", key, ev.Variant, again.Variant)
		}
		if ev.Value == true {
			on++
		}
	}
	if share := float64(on) / 100; math.Abs(share-10) > 1 {
		t.Errorf("%.2f %% on; want 10 ± 1", share)
	}
	// The bucket depends on the flag key too: another flag splits others.
	same := 0
	for i := range 1000 {
		key := fmt.Sprintf("user-%d", i)
		if Bucket("checkout_v2", key, f.Targeting.Fractional) == Bucket("search_v3", key, f.Targeting.Fractional) {
			same++
		}
	}
	if same > 900 { // independent 10/90 splits agree on about 82 %
		t.Errorf("%d of 1000 keys got the same variant of two flags: the key is not in the hash", same)
	}
}

func TestEvaluateStatesAndOverrides(t *testing.T) {
	f := checkout()
	if _, err := Evaluate("checkout_v2", f, "", false); !errors.Is(err, ErrTargetingKeyMissing) {
		t.Errorf("split without a key: %v", err)
	}
	off := Apply(f, &Override{State: spec.FlagDisabled})
	ev, err := Evaluate("checkout_v2", off, "u", true)
	if err != nil || ev.Reason != ReasonDisabled || ev.Value != nil || ev.Variant != "" || ev.Metadata["overridden"] != true {
		t.Errorf("disabled: %+v %v", ev, err)
	}
	pinned := Apply(f, &Override{Variant: "on"})
	if ev, _ := Evaluate("checkout_v2", pinned, "", true); ev.Value != true || ev.Reason != ReasonDefault || ev.Metadata["kind"] != "release" {
		t.Errorf("pinned: %+v", ev)
	}
	plain := f
	plain.Targeting = nil
	if ev, _ := Evaluate("checkout_v2", plain, "", false); ev.Value != false || ev.Reason != ReasonStatic || ev.Variant != "off" {
		t.Errorf("static: %+v", ev)
	}
}
