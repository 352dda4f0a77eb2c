package rollout

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/belay-dev/belay/internal/target"
)

// Commands reach the engine as JSON through the API; they must arrive whole.
func TestCommandObservationJSON(t *testing.T) {
	to := target.Version{Version: "api-v0", Artifact: "sha256:0", Weight: 100}
	o := Observation{Kind: Manual, Command: &Command{Kind: CmdRollback, Actor: "ann", Reason: "r", To: &to, AcceptContract: true}}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var back Observation
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, o) {
		t.Fatalf("%v\n%+v\n%+v", err, o, back)
	}
	if tickObs().Kind != Tick {
		t.Fatal("tick")
	}
}
