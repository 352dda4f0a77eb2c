package sqlite

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/sqlstore"
	"github.com/belay-dev/belay/internal/store/storetest"
)

func openTemp(t testing.TB) store.Store {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "state.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestSuite(t *testing.T) { storetest.Run(t, openTemp) }

func TestCreatesDirectoryAndWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "home", "nested", "state.db")
	s, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no WAL file beside the database: %v", err)
	}
}

func TestRefusesBadPath(t *testing.T) {
	_, err := Open(t.Context(), "state.db?mode=memory", nil)
	if !errors.Is(err, store.ErrInvalid) {
		t.Errorf("error = %v, want ErrInvalid", err)
	}
}

func TestMigrations(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	storetest.Migrations(t, ms, func(t *testing.T) storetest.MigrationOpener {
		path := filepath.Join(t.TempDir(), "state.db")
		return func(ms []sqlstore.Migration) (store.Store, error) { return open(t.Context(), path, nil, ms) }
	})
}

// TestTwoProcesses: two stores on one file (as the CLI beside a running
// server) both write without SQLITE_BUSY errors.
func TestTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	storetest.SharedDatabase(t, func(t testing.TB) store.Store {
		s, err := Open(t.Context(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func BenchmarkStore(b *testing.B) { storetest.Bench(b, openTemp) }

// TestAuditTamper edits the database file's audit log behind the store.
func TestAuditTamper(t *testing.T) {
	storetest.AuditTamper(t, func(t *testing.T) (store.Store, *sql.DB) {
		path := filepath.Join(t.TempDir(), "state.db")
		s, err := Open(t.Context(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		db, err := pool(path, "", 1)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(); _ = db.Close() })
		return s, db
	})
}
