package open

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/storetest"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		state, home string
		want        Location
	}{
		{"", "/h/.belay", Location{Backend: "sqlite", Path: "/h/.belay/state.db"}},
		{"sqlite:///var/lib/belay/state.db", "/h", Location{Backend: "sqlite", Path: "/var/lib/belay/state.db"}},
		{"sqlite://localhost/x.db", "", Location{Backend: "sqlite", Path: "/x.db"}},
		{"other/state.db", "/h", Location{Backend: "sqlite", Path: "other/state.db"}},
		{"postgres://u@db:5432/belay", "", Location{Backend: "postgres", URL: "postgres://u@db:5432/belay"}},
		{"postgresql://u@db/belay?sslmode=disable", "", Location{Backend: "postgres", URL: "postgresql://u@db/belay?sslmode=disable"}},
	} {
		got, err := Parse(tc.state, tc.home)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q, %q) = %+v, %v; want %+v", tc.state, tc.home, got, err, tc.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for state, fragments := range map[string][]string{
		"mysql://u@db/belay":        {`unknown scheme "mysql"`, "sqlite, postgres, postgresql", "postgres://user@host/db"},
		"not a url":                 {`state "not a url" is neither a URL nor a SQLite file path; use a SQLite file path ending in .db`},
		"state":                     {"neither a URL nor a SQLite file path"},
		"redis://:secret@localhost": {`unknown scheme "redis"`},
		"sqlite://":                 {"sqlite:///absolute/path"},
		"sqlite://host/x.db":        {"sqlite:///absolute/path"},
		"":                          {"--home"},
		"MEMORY://everything":       {`unknown scheme "MEMORY"`},
	} {
		_, err := Parse(state, "")
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Parse(%q) leaks the password: %v", state, err)
		}
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Parse(%q): error %v, want ErrInvalid", state, err)
			continue
		}
		for _, f := range fragments {
			if !strings.Contains(err.Error(), f) {
				t.Errorf("Parse(%q): %q does not mention %q", state, err, f)
			}
		}
	}
}

func TestOpenDefaultSQLite(t *testing.T) {
	home := filepath.Join(t.TempDir(), "not", "yet", ".belay")
	s, err := Open(t.Context(), "", home, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(home, "state.db")); err != nil {
		t.Errorf("state.db not created under home: %v", err)
	}
	if _, err := s.GetRollout(t.Context(), 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("fresh store: %v, want ErrNotFound", err)
	}
}

func TestOpenPostgres(t *testing.T) {
	u := storetest.PostgresURL(t)
	s, err := Open(t.Context(), u, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The postgres package's suite covers behaviour; this only checks the
	// URL reached PostgreSQL (an id from the server's sequence).
	if _, err := s.EventsSince(t.Context(), 0, 1); err != nil {
		t.Fatal(err)
	}
}
