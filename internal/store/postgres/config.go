package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/belay-dev/belay/internal/store"
)

func pgconnConfig(url string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL with its password: keep only the cause's kind.
		return nil, fmt.Errorf("%w: cannot parse PostgreSQL URL: expected postgres://user@host:port/database", store.ErrInvalid)
	}
	return cfg, nil
}

// redact names a database without its password, for messages.
func redact(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}
