// Package providertest is the suite every infrastructure provider passes
// against a real server: observe before create finds nothing, create makes
// what the spec says and is idempotent, observe never changes anything (a
// change made by hand stays visible until an update), update makes the
// server match a changed spec and restores a hand-made change, delete is
// idempotent.
package providertest

import (
	"context"
	"reflect"
	"testing"

	"github.com/belay-dev/belay/internal/infra/provider"
)

// Case describes the resources a provider is tested with.
type Case struct {
	// Resources, in the order they are created (deleted in reverse); names
	// unique to the test.
	Resources []provider.Resource
	// Changed are the same resources with changed specs, for Update.
	Changed []provider.Resource
	// Tamper changes one resource on the server by hand, as an operator
	// would, and returns its index in Changed and the field it changed.
	Tamper func(ctx context.Context, t *testing.T) (index int, field string)
}

// Run runs the suite on p.
func Run(t *testing.T, p provider.Provider, c Case) {
	ctx := t.Context()
	if len(c.Resources) == 0 || len(c.Changed) != len(c.Resources) || c.Tamper == nil {
		t.Fatal("providertest: a case needs resources, as many changed ones and a tamper function")
	}
	observe := func(r provider.Resource) provider.Observation {
		t.Helper()
		o, err := p.Observe(ctx, r)
		if err != nil {
			t.Fatalf("Observe(%s): %v", r.ID(), err)
		}
		return o
	}
	upToDate := func(step string, rs []provider.Resource) {
		t.Helper()
		for _, r := range rs {
			o := observe(r)
			if !o.Exists {
				t.Fatalf("%s: %s does not exist", step, r.ID())
			}
			if d := provider.Diff(r.Spec, o.Fields); len(d) != 0 {
				t.Fatalf("%s: %s differs from its spec: %+v (observed %v)", step, r.ID(), d, o.Fields)
			}
		}
	}
	t.Cleanup(func() {
		for i := len(c.Resources) - 1; i >= 0; i-- {
			_ = p.Delete(context.WithoutCancel(ctx), c.Resources[i])
		}
	})

	for _, r := range c.Resources {
		if o := observe(r); o.Exists {
			t.Fatalf("before create: %s exists (%v); the case must use fresh names", r.ID(), o.Fields)
		}
	}
	for _, r := range c.Resources {
		if err := p.Create(ctx, r); err != nil {
			t.Fatalf("Create(%s): %v", r.ID(), err)
		}
	}
	upToDate("after create", c.Resources)
	for _, r := range c.Resources { // idempotent: an apply run again after a crash creates again
		if err := p.Create(ctx, r); err != nil {
			t.Fatalf("Create(%s) again: %v", r.ID(), err)
		}
	}
	upToDate("after a second create", c.Resources)

	changes := 0
	for _, r := range c.Changed {
		changes += len(provider.Diff(r.Spec, observe(r).Fields))
	}
	if changes == 0 {
		t.Fatal("the changed specs are what the server has already; the case changes nothing")
	}
	for _, r := range c.Changed {
		if err := p.Update(ctx, r); err != nil {
			t.Fatalf("Update(%s): %v", r.ID(), err)
		}
		if err := p.Update(ctx, r); err != nil {
			t.Fatalf("Update(%s) again: %v", r.ID(), err)
		}
	}
	upToDate("after update", c.Changed)

	i, field := c.Tamper(ctx, t)
	r := c.Changed[i]
	first := observe(r)
	d := provider.Diff(r.Spec, first.Fields)
	if len(d) != 1 || d[0].Field != field {
		t.Fatalf("after changing %s of %s by hand, the diff is %+v; want exactly that field", field, r.ID(), d)
	}
	if again := observe(r); !reflect.DeepEqual(again, first) {
		t.Fatalf("Observe changed something: first %v, then %v", first.Fields, again.Fields)
	}
	if err := p.Update(ctx, r); err != nil {
		t.Fatalf("Update(%s) after the hand-made change: %v", r.ID(), err)
	}
	upToDate("after restoring", c.Changed)

	for i := len(c.Changed) - 1; i >= 0; i-- {
		r := c.Changed[i]
		if err := p.Delete(ctx, r); err != nil {
			t.Fatalf("Delete(%s): %v", r.ID(), err)
		}
		if o := observe(r); o.Exists {
			t.Fatalf("after delete: %s exists", r.ID())
		}
		if err := p.Delete(ctx, r); err != nil {
			t.Fatalf("Delete(%s) again: %v", r.ID(), err)
		}
	}
}
