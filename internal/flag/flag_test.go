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
	share := float64(on) / 100
	if math.Abs(share-10) > 1 {
		t.Errorf("%.2f %% on; want 10 ± 1", share)
	}
	t.Logf("10 000 keys at 10 %%: %.2f %% got on", share)
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

// MurmurHash3 x86_32, seed 0, on the reference implementation's values
// (SMHasher; checked against github.com/spaolacci/murmur3 on 40 000 keys
// when this was written), every tail length included.
func TestMurmur3(t *testing.T) {
	for in, want := range map[string]uint32{
		"": 0, "a": 0x3c2569b2, "ab": 0x9bbfd75f, "abc": 0xb3dd93fa, "abcd": 0x43ed676a, "hello": 0x248bfa47,
		"The quick brown fox jumps over the lazy dog": 0x2e4ff723,
	} {
		if got := murmur3([]byte(in)); got != want {
			t.Errorf("murmur3(%q) = %#08x; want %#08x", in, got, want)
		}
	}
}
