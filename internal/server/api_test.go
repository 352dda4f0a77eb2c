package server

import (
	"errors"
	"testing"

	"github.com/belay-dev/belay/internal/orchestrate"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/store"
)

func TestStatusOfMapsSentinels(t *testing.T) {
	for err, want := range map[error]int{
		store.ErrNotFound: 404, store.ErrConflict: 409, orchestrate.ErrOutOfOrder: 409, orchestrate.ErrBadRequest: 422,
		orchestrate.ErrForce: 412, rollout.ErrNotAllowed: 422, errors.New("disk on fire"): 500,
	} {
		if got := statusOf(err); got != want {
			t.Errorf("%v: %d, want %d", err, got, want)
		}
	}
}
