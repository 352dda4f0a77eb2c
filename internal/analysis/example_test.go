package analysis_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/analysis/replay"
	"github.com/belay-dev/belay/internal/spec"
)

// The engine's loop for one canary step: build the analyzer once, persist it
// after every Step (it is plain JSON), and act on the decision.
func Example() {
	tr, _ := spec.ParseTrigger("error_rate > 1% for 5m")
	a, err := analysis.New(analysis.Config{
		Canary: "api-v3", Stable: "api-v2",
		Triggers:    []analysis.TriggerConfig{{Trigger: tr}},
		MinDuration: time.Minute,
	})
	if err != nil {
		panic(err)
	}
	// A generated stream stands in for a Source: v3 fails 5 % of requests.
	src := replay.New(1, time.Unix(0, 0),
		replay.Arm{Version: "api-v2", Rate: 190, ErrorRate: 0.001},
		replay.Arm{Version: "api-v3", Rate: 10, ErrorRate: 0.05})
	for tick := 0; tick < 600; tick++ {
		// With a real source: v := a.Tick(ctx, src, env, service, weight, now)
		v := a.Step(analysis.Observation{Counters: src.Counters(), Weight: 5}, src.Now())
		saved, _ := json.Marshal(a) // the engine stores this before acting
		_ = saved
		if v.Decision != analysis.Continue {
			fmt.Println(v.Decision, v.Trigger, v.At.Unix() < 30)
			return
		}
		src.Advance(time.Second)
	}
	// Output: fail sequential:errors true
}
