package cli

import (
	"reflect"
	"testing"

	"github.com/belay-dev/belay/internal/artifact"
	"github.com/belay-dev/belay/internal/spec"
)

func TestRunConfig(t *testing.T) {
	for _, tc := range []struct {
		run  *spec.Run
		want artifact.RunConfig
	}{
		{&spec.Run{Command: "bin/hello", Args: []string{"-v"}, Env: map[string]string{"B": "2", "A": "1"}},
			artifact.RunConfig{Entrypoint: []string{"bin/hello"}, Cmd: []string{"-v"}, Env: []string{"A=1", "B=2"}}},
		{&spec.Run{Command: "bin/hello --port $PORT", Port: 8080},
			artifact.RunConfig{Entrypoint: []string{"/bin/sh", "-c", "bin/hello --port $PORT"}, Env: []string{"PORT=8080"}, Ports: []string{"8080"}}},
		{nil, artifact.RunConfig{}},
	} {
		if got := runConfig(tc.run); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("runConfig(%+v) = %+v, want %+v", tc.run, got, tc.want)
		}
	}
}
