package rollouttest

import (
	"context"
	"errors"
	"testing"

	"github.com/belay-dev/belay/internal/target"
)

func TestTargetRecordsAndChecks(t *testing.T) {
	ctx := context.Background()
	tg := NewTarget()
	d := target.Desired{Environment: "e", Service: "s", Versions: []target.Version{{Version: "v1", Weight: 60}, {Version: "v2", Weight: 30}}}
	if err := tg.Apply(ctx, d); !errors.Is(err, target.ErrInvalid) {
		t.Fatalf("bad weights: %v", err)
	}
	d.Versions[1].Weight = 40
	if err := tg.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	o, err := tg.Observe(ctx, "e", "s")
	if err != nil || len(o.Versions) != 2 || o.Versions[1].Weight != 40 {
		t.Fatalf("observed %+v, %v", o, err)
	}
	tg.Fail("v2", target.ErrUnhealthy)
	if err := tg.Apply(ctx, d); !errors.Is(err, target.ErrUnhealthy) {
		t.Fatalf("fail: %v", err)
	}
	if len(tg.Applied()) != 1 || tg.Weights("e", "s")["v1"] != 60 {
		t.Fatalf("applied %v", tg.Applied())
	}
	if _, err := tg.Observe(ctx, "e", "other"); !errors.Is(err, target.ErrNotFound) {
		t.Fatalf("observe unknown: %v", err)
	}
}
