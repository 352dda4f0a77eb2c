package rollout

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/belay-dev/belay/internal/hook"
	"github.com/belay-dev/belay/internal/smoke"
	"github.com/belay-dev/belay/internal/target"
)

func TestPermanent(t *testing.T) {
	ctx := context.Background()
	for _, err := range []error{
		fmt.Errorf("x: %w", ErrActionFailed), fmt.Errorf("x: %w", smoke.ErrFailed), hook.ErrTimeout,
		fmt.Errorf("apply: %w", target.ErrUnhealthy), target.ErrArtifact,
	} {
		if !permanent(ctx, err) {
			t.Errorf("%v is not permanent", err)
		}
	}
	if permanent(ctx, errors.New("connection refused")) {
		t.Error("a network error is permanent")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if permanent(cancelled, fmt.Errorf("%w: killed", hook.ErrFailed)) {
		t.Error("a hook killed by shutdown counts as a failure")
	}
}
