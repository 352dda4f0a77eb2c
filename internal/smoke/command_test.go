package smoke

import (
	"context"
	"testing"
	"time"
)

func TestRunCommandSeesBaseURLAndTimesOut(t *testing.T) {
	r := runCommand(context.Background(), "http://x:1", Test{Name: "env", Command: `test "$BASE_URL" = http://x:1 && echo yes`})
	if !r.Passed || r.Output != "yes\n" {
		t.Fatalf("%+v", r)
	}
	r = runCommand(context.Background(), "", Test{Name: "slow", Command: "sleep 20", Timeout: 200 * time.Millisecond})
	if r.Passed || r.Duration > 10*time.Second {
		t.Fatalf("%+v", r)
	}
}
