package postgres

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/sqlstore"
	"github.com/belay-dev/belay/internal/store/storetest"
)

func openFresh(t testing.TB) store.Store {
	s, err := Open(t.Context(), storetest.PostgresURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestSuite(t *testing.T) { storetest.Run(t, openFresh) }

func TestMigrations(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	storetest.Migrations(t, ms, func(t *testing.T) storetest.MigrationOpener {
		u := storetest.PostgresURL(t)
		return func(ms []sqlstore.Migration) (store.Store, error) { return open(t.Context(), u, nil, ms) }
	})
}

// TestTwoServers: two control planes on one database write concurrently.
func TestTwoServers(t *testing.T) {
	u := storetest.PostgresURL(t)
	storetest.SharedDatabase(t, func(t testing.TB) store.Store {
		s, err := Open(t.Context(), u, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestBadURL(t *testing.T) {
	_, err := Open(t.Context(), "postgres://u:secret@host:notaport/db", nil)
	if !errors.Is(err, store.ErrInvalid) || strings.Contains(err.Error(), "secret") {
		t.Errorf("error = %v, want ErrInvalid without the password", err)
	}
}

func TestUnreachable(t *testing.T) {
	_, err := Open(t.Context(), "postgres://belay:secret@127.0.0.1:1/belay?connect_timeout=2", nil)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(err.Error(), "secret") {
		t.Errorf("error = %v, want one naming the server without the password", err)
	}
}

func BenchmarkStore(b *testing.B) { storetest.Bench(b, openFresh) }

// TestAuditTamper edits the database's audit log behind the store.
func TestAuditTamper(t *testing.T) {
	storetest.AuditTamper(t, func(t *testing.T) (store.Store, *sql.DB) {
		u := storetest.PostgresURL(t)
		s, err := Open(t.Context(), u, nil)
		if err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("pgx", u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close(); _ = db.Close() })
		return s, db
	})
}
