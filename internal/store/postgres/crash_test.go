package postgres

import (
	"os"
	"os/exec"
	"testing"

	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/storetest"
)

// TestCrash kills a process writing transitions with SIGKILL and checks
// nothing it committed is lost or half-written.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := storetest.PostgresURL(t)
	child := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	child.Env = []string{storetest.CrashEnv + "=" + path}
	storetest.Crash(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, child)
}

// TestCrashChild is TestCrash's writer process.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(storetest.CrashEnv)
	if path == "" {
		t.Skip("run by TestCrash")
	}
	s, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Fatal(storetest.CrashWriter(t.Context(), s))
}
