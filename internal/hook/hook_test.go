package hook

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunCapturesOutputAndEnv(t *testing.T) {
	dir := t.TempDir()
	res, err := Run(context.Background(), Spec{
		Name:    "migrate",
		Command: `echo "db=$DB"; echo oops >&2; pwd`,
		Dir:     dir,
		Env:     map[string]string{"DB": "postgres://x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("exit %d", res.ExitCode)
	}
	for _, want := range []string{"db=postgres://x", "oops", dir} {
		if !strings.Contains(res.Output, want) {
			t.Errorf("output %q lacks %q", res.Output, want)
		}
	}
}

func TestRunFailureKeepsExitCodeAndOutput(t *testing.T) {
	res, err := Run(context.Background(), Spec{Name: "migrate", Command: "echo relation exists; exit 3"})
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("err = %v, want ErrFailed", err)
	}
	if res.ExitCode != 3 || !strings.Contains(res.Output, "relation exists") {
		t.Fatalf("got %+v", res)
	}
	if !strings.Contains(err.Error(), `"migrate"`) {
		t.Errorf("error %q does not name the hook", err)
	}
}

// A timeout kills the shell's children too: the grandchild would otherwise
// write its marker file after the hook "ended".
func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "survived")
	start := time.Now()
	res, err := Run(context.Background(), Spec{
		Command: "(sleep 1.5; touch " + marker + ") & sleep 30",
		Timeout: 300 * time.Millisecond,
	})
	if !errors.Is(err, ErrTimeout) || !res.TimedOut || res.ExitCode != -1 {
		t.Fatalf("err = %v, res = %+v", err, res)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Run returned after %s", d)
	}
	time.Sleep(2 * time.Second)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a child of the hook outlived the timeout")
	}
}

func TestRunCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err := Run(ctx, Spec{Command: "sleep 30"})
	if !errors.Is(err, ErrFailed) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestRunBoundsOutput(t *testing.T) {
	res, err := Run(context.Background(), Spec{
		Command:   `echo BEGIN; i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; echo END`,
		MaxOutput: 200,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Truncated || len(res.Output) > 300 {
		t.Fatalf("truncated=%v len=%d", res.Truncated, len(res.Output))
	}
	if !strings.HasPrefix(res.Output, "BEGIN") || !strings.HasSuffix(res.Output, "END\n") {
		t.Fatalf("head or tail lost: %q", res.Output)
	}
}

func TestRunMissingDirectory(t *testing.T) {
	_, err := Run(context.Background(), Spec{Command: "true", Dir: "/nonexistent/belay"})
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("err = %v", err)
	}
}
