package smoke

import (
	"context"
	"time"

	"github.com/belay-dev/belay/internal/hook"
)

// runCommand runs a command test with BASE_URL in its environment; exit 0 passes.
func runCommand(ctx context.Context, baseURL string, t Test) Result {
	res := Result{Name: t.Name, Target: t.Command}
	start := time.Now()
	hr, err := hook.Run(ctx, hook.Spec{
		Name:      t.Name,
		Command:   t.Command,
		Env:       map[string]string{"BASE_URL": baseURL},
		Timeout:   timeout(t),
		MaxOutput: 8 << 10,
	})
	res.Duration = time.Since(start)
	res.Output = hr.Output
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Passed = true
	return res
}
