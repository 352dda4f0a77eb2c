package spec

import (
	"errors"
	"testing"
)

func TestParseRollbackAction(t *testing.T) {
	for in, want := range map[string]RollbackAction{
		"deploy previous_stable":      {ActionDeploy, PreviousStable},
		"  disable_flag new-checkout": {ActionDisableFlag, "new-checkout"},
		"enable_flag kill.switch_1":   {ActionEnableFlag, "kill.switch_1"},
	} {
		got, err := ParseRollbackAction(in)
		if err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "deploy", "deploy v1", "rollback previous_stable", "disable_flag a b", "disable_flag bad/flag"} {
		if _, err := ParseRollbackAction(bad); !errors.Is(err, ErrAction) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if s := (RollbackAction{ActionDeploy, PreviousStable}).String(); s != "deploy previous_stable" {
		t.Error(s)
	}
}
