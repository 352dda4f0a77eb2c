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
	s, err := NewRollback(c, v0, Command{Actor: "ann", Reason: "incident 7"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if s.Phase != RollingBack || s.Seq != 0 || !s.Active() {
		t.Fatalf("%+v", s)
	}
	last := s.Pending[len(s.Pending)-2]
	if last.Kind != SetWeights || len(last.Desired.Versions) != 1 || last.Desired.Versions[0].Version != "api-v0" ||
		last.Desired.Versions[0].Weight != 100 {
		t.Fatalf("actions %+v", s.Pending)
	}
	if mark := s.Pending[len(s.Pending)-1]; mark.Kind != MarkStable || mark.Version != "api-v0" {
		t.Fatalf("mark %+v", mark)
	}
	if s.Pending[0].Event.Actor != "ann" || s.Reason != "rollback by ann: incident 7" {
		t.Fatalf("audit lost: %+v %q", s.Pending[0].Event, s.Reason)
	}
	done, acts := Next(s, Observation{Kind: Done, Seq: 0}, t0)
	if done.Phase != RolledBack || acts[0].Event.ID == s.Pending[0].Event.ID {
		t.Fatalf("%s, event ids %s and %s", done.Phase, s.Pending[0].Event.ID, acts[0].Event.ID)
	}
}

func TestNewRollbackRefuses(t *testing.T) {
	c := testConfig()
	if _, err := NewRollback(c, c.New, Command{Actor: "a"}, t0); !errors.Is(err, ErrConfig) {
		t.Errorf("to itself: %v", err)
	}
	if _, err := NewRollback(c, *c.Stable, Command{}, t0); !errors.Is(err, ErrConfig) {
		t.Errorf("no actor: %v", err)
	}
	c.MigrationType = ContractMigration
	if _, err := NewRollback(c, *c.Stable, Command{Actor: "a"}, t0); !errors.Is(err, ErrContract) {
		t.Errorf("contract: %v", err)
	}
	if _, err := NewRollback(c, *c.Stable, Command{Actor: "a", AcceptContract: true}, t0); err != nil {
		t.Errorf("contract accepted: %v", err)
	}
}
