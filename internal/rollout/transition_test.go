package rollout

import (
	"testing"
)

func TestEntryActionsAreIdempotentDescriptions(t *testing.T) {
	s := canaryAt(t, testConfig())
	// The same phase yields the same desired state however often it is asked.
	a, b := s.entryActions(), s.entryActions()
	if len(a) != 1 || a[0].Desired.Versions[0].Weight != 90 || b[0].Desired.Versions[1].Weight != 10 {
		t.Fatalf("%+v", a)
	}
	a[0].Desired.Versions[0].Weight = 1
	if s.entryActions()[0].Desired.Versions[0].Weight != 90 {
		t.Fatal("actions share memory with the state")
	}
}

func TestRollbackActions(t *testing.T) {
	s := canaryAt(t, testConfig())
	s.Phase = RollingBack
	acts := s.rollbackActions()
	if len(acts) != 1 || acts[0].Kind != SetWeights || acts[0].Desired.Versions[0].Version != "api-v1" {
		t.Fatalf("%+v", acts)
	}
	s.Stable = nil
	acts = s.rollbackActions()
	if len(acts) != 1 || acts[0].Kind != StopVersion || acts[0].Desired.Versions == nil || len(acts[0].Desired.Versions) != 0 {
		t.Fatalf("first release: %+v", acts)
	}
}
