// Package open picks a store backend by URL and opens it. It is the one
// place that knows every backend, so the backends never import each other
// and the parent package imports none.
package open

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/postgres"
	"github.com/belay-dev/belay/internal/store/sqlite"
)

// Schemes lists the URL schemes Open understands.
var Schemes = []string{"sqlite", "postgres", "postgresql"}

// FileName is the SQLite database's name under the home directory.
const FileName = "state.db"

// Location is where a store lives: a backend name and what it opens.
type Location struct {
	Backend string // "sqlite" or "postgres"
	Path    string // SQLite: the database file
	URL     string // PostgreSQL: the connection URL
}

// Forms says which state locations Parse accepts, for error messages.
const Forms = "a SQLite file path ending in .db, .sqlite or .sqlite3 (e.g. .belay/state.db), sqlite:///absolute/path/state.db, or postgres://user@host/db"

// Parse resolves a --state value: empty means SQLite at home/state.db,
// sqlite:///path or a SQLite file path (named *.db, *.sqlite, *.sqlite3,
// or an existing file) means SQLite there, postgres:// and postgresql://
// mean PostgreSQL. Anything else is an error naming the accepted forms: a
// typo must not become a new, empty database.
func Parse(state, home string) (Location, error) {
	switch {
	case state == "":
		if home == "" {
			return Location{}, fmt.Errorf("%w: no state URL and no home directory: set --home or BELAY_HOME", store.ErrInvalid)
		}
		return Location{Backend: "sqlite", Path: filepath.Join(home, FileName)}, nil
	case strings.HasPrefix(state, "postgres://"), strings.HasPrefix(state, "postgresql://"):
		return Location{Backend: "postgres", URL: state}, nil
	case strings.HasPrefix(state, "sqlite://"):
		u, err := url.Parse(state)
		if err != nil || u.Path == "" || (u.Host != "" && u.Host != "localhost") {
			return Location{}, fmt.Errorf("%w: state URL %q: expected sqlite:///absolute/path/state.db", store.ErrInvalid, state)
		}
		return Location{Backend: "sqlite", Path: u.Path}, nil
	}
	if scheme, _, ok := strings.Cut(state, "://"); ok {
		// The URL itself is not repeated: it may hold a password.
		return Location{}, fmt.Errorf("%w: state URL has unknown scheme %q (schemes: %s); use %s",
			store.ErrInvalid, scheme, strings.Join(Schemes, ", "), Forms)
	}
	if !sqliteFile(state) {
		return Location{}, fmt.Errorf("%w: state %q is neither a URL nor a SQLite file path; use %s", store.ErrInvalid, state, Forms)
	}
	return Location{Backend: "sqlite", Path: state}, nil
}

// sqliteFile reports whether a plain path names a SQLite file: by its
// extension, or because the file exists.
func sqliteFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".db", ".sqlite", ".sqlite3":
		return true
	}
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// Open opens and migrates the store that state names (see Parse).
func Open(ctx context.Context, state, home string, log *slog.Logger) (store.Store, error) {
	loc, err := Parse(state, home)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch loc.Backend {
	case "postgres":
		return postgres.Open(ctx, loc.URL, log)
	default:
		return sqlite.Open(ctx, loc.Path, log)
	}
}
