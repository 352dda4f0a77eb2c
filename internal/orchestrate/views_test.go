package orchestrate

import (
	"fmt"
	"testing"
)

// History without an environment lists every environment's rollouts,
// newest first; with one, only that environment's.
func TestHistoryOfEveryEnvironment(t *testing.T) {
	h := newHarness(t, "")
	h.settled(h.release("api-v1").Release)
	all, err := h.o.History(h.ctx, "api", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range all {
		got = append(got, fmt.Sprintf("%d %s", r.ID, r.Environment))
	}
	if fmt.Sprint(got) != "[2 production 1 staging]" {
		t.Fatalf("history of every environment: %v", got)
	}
	prod, err := h.o.History(h.ctx, "api", "production")
	if err != nil || len(prod) != 1 || prod[0].Environment != "production" {
		t.Fatalf("history of production: %+v, %v", prod, err)
	}
}
