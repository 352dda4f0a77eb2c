package rollout

import (
	"errors"
	"testing"

	"github.com/belay-dev/belay/internal/target"
)

func TestNewRollback(t *testing.T) {
	c := testConfig()
	c.Stable = &target.Version{Version: "api-v1"}
	v0 := target.Version{Version: "api-v0"}
	s, evs, err := NewRollback(c, v0, Command{Actor: "ann", Reason: "incident 7"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Phase != RollingBack || s.Seq != 0 || !s.Active() || s.Kind != KindRollback {
		t.Fatalf("%+v", s)
	}
	last := s.Pending[len(s.Pending)-1]
	if last.Kind != SetWeights || len(last.Desired.Versions) != 1 || last.Desired.Versions[0].Version != "api-v0" ||
		last.Desired.Versions[0].Weight != 100 {
		t.Fatalf("actions %+v", s.Pending)
	}
	for _, a := range s.Pending {
		if a.Kind == Emit {
			t.Fatalf("an event left as an action: %+v", a)
		}
	}
	if len(evs) != 1 || evs[0].Actor != "ann" || s.Reason != "rollback by ann: incident 7" {
		t.Fatalf("audit lost: %+v %q", evs, s.Reason)
	}
	done, _ := Next(s, Observation{Kind: Done, Seq: 0}, t0)
	done, tr := Record(s, done, Observation{Kind: Done, Seq: 0}, t0)
	if done.Phase != RolledBack || tr.Events[0].ID == evs[0].ID {
		t.Fatalf("%s, event ids %s and %s", done.Phase, evs[0].ID, tr.Events[0].ID)
	}
	// The rollback's target becomes stable and the version it left is rejected,
	// in the transition that finishes it.
	if tr.Stable == nil || tr.Stable.Version != "api-v0" || tr.Rejected != c.New.Version {
		t.Fatalf("stable %+v rejected %q", tr.Stable, tr.Rejected)
	}
}

func TestNewRollbackRefuses(t *testing.T) {
	c := testConfig()
	if _, _, err := NewRollback(c, c.New, Command{Actor: "a"}, t0); !errors.Is(err, ErrConfig) {
		t.Errorf("to itself: %v", err)
	}
	if _, _, err := NewRollback(c, *c.Stable, Command{}, t0); !errors.Is(err, ErrConfig) {
		t.Errorf("no actor: %v", err)
	}
	c.MigrationType = ContractMigration
	if _, _, err := NewRollback(c, *c.Stable, Command{Actor: "a"}, t0); !errors.Is(err, ErrContract) {
		t.Errorf("contract: %v", err)
	}
	if _, _, err := NewRollback(c, *c.Stable, Command{Actor: "a", AcceptContract: true}, t0); err != nil {
		t.Errorf("contract accepted: %v", err)
	}
}
