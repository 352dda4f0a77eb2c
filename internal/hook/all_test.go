package hook

import (
	"context"
	"errors"
	"testing"
)

func TestRunAllStopsAtFirstFailure(t *testing.T) {
	res, err := RunAll(context.Background(), []Spec{
		{Name: "one", Command: "echo 1"},
		{Name: "two", Command: "exit 4"},
		{Name: "three", Command: "echo 3"},
	})
	if !errors.Is(err, ErrFailed) || len(res) != 2 || res[1].ExitCode != 4 || res[0].Output != "1\n" {
		t.Fatalf("err %v, results %+v", err, res)
	}
}
