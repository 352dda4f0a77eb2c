package cli

import (
	"context"
	"log/slog"

	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/open"
)

// OpenStore opens and migrates the state store that --state / BELAY_STATE
// names, or SQLite in the home directory (see HomeDir) when they are empty.
// The caller closes it.
func (g *Globals) OpenStore(ctx context.Context, projectFile string, log *slog.Logger) (store.Store, error) {
	return open.Open(ctx, g.State, g.HomeDir(projectFile), log)
}
