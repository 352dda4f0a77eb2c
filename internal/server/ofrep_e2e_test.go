package server

import (
	"context"
	"strings"
	"testing"

	"github.com/open-feature/go-sdk-contrib/providers/ofrep"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/belay-dev/belay/internal/flag"
	"github.com/belay-dev/belay/internal/spec"
)

// TestOFREPWithOpenFeatureSDK: an application reads belay's flags through
// the real OpenFeature Go SDK and its OFREP provider, as docs/flags.md
// tells: a boolean, a string, a split, a number, and a disabled flag and
// a stopped server, both of which give the code default.
func TestOFREPWithOpenFeatureSDK(t *testing.T) {
	r := newOFREPRig(t)
	ctx := context.Background()
	domain := "belay-" + t.Name()
	provider := ofrep.NewProvider(r.url, ofrep.WithBearerToken(r.token("web", "production")))
	if err := openfeature.SetNamedProviderAndWait(domain, provider); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(openfeature.Shutdown)
	client := openfeature.NewClient(domain)
	user := openfeature.NewEvaluationContext("user-42", map[string]any{"plan": "pro"})

	on, err := client.BooleanValueDetails(ctx, "new-checkout", false, user)
	if err != nil || !on.Value || on.Variant != "on" || on.Reason != openfeature.StaticReason || on.FlagMetadata["kind"] != "release" {
		t.Errorf("boolean (production's override): %+v %v", on, err)
	}
	banner, err := client.StringValue(ctx, "banner-text", "Hi", user)
	if err != nil || banner != "Happy holidays" {
		t.Errorf("string: %q %v", banner, err)
	}
	variant := flag.Bucket("checkout-split", "user-42", spec.Fractional{{Variant: "control", Percent: 50}, {Variant: "treatment", Percent: 50}})
	split, err := client.StringValueDetails(ctx, "checkout-split", "old", user)
	if err != nil || split.Variant != variant || split.Reason != openfeature.SplitReason || split.Value != map[string]string{"control": "old", "treatment": "new"}[variant] {
		t.Errorf("split: %+v %v; want variant %s", split, err, variant)
	}
	if n, err := client.IntValue(ctx, "max-items", 5, user); err != nil || n != 100 {
		t.Errorf("integer: %d %v", n, err)
	}
	// risky-path is DISABLED: its variant would say true, the code says false.
	risky, err := client.BooleanValueDetails(ctx, "risky-path", false, user)
	if err != nil || risky.Value || risky.Reason != openfeature.DisabledReason {
		t.Errorf("disabled: %+v %v; want the code default, false", risky, err)
	}
	if _, err := client.StringValue(ctx, "checkout-split", "old", openfeature.NewTargetlessEvaluationContext(nil)); err == nil || !strings.Contains(err.Error(), "TARGETING_KEY_MISSING") {
		t.Errorf("a split without a targeting key: %v", err)
	}
	if v, err := client.BooleanValue(ctx, "nope", true, user); !v || err == nil || !strings.Contains(err.Error(), "FLAG_NOT_FOUND") {
		t.Errorf("unknown flag: %v %v", v, err)
	}

	// X-API-Key works as well as a bearer token.
	keyed := "belay-keyed-" + t.Name()
	if err := openfeature.SetNamedProviderAndWait(keyed, ofrep.NewProvider(r.url, ofrep.WithApiKeyAuth(r.token("web-staging", "staging")))); err != nil {
		t.Fatal(err)
	}
	if v, err := openfeature.NewClient(keyed).BooleanValue(ctx, "new-checkout", true, user); err != nil || v {
		t.Errorf("staging through X-API-Key: %v %v; want false", v, err)
	}

	// The server is gone: the code default, and an error to log.
	r.stop()
	if v, err := client.BooleanValue(ctx, "new-checkout", false, user); v || err == nil {
		t.Errorf("server stopped: %v %v; want the code default, false, and an error", v, err)
	}
}
