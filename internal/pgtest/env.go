package pgtest

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/connect"
)

// startEnv uses the server named by PGTUNE_TEST_DATABASE_URL. The caller asked for it explicitly,
// so a server that cannot be reached is a failure, not a reason to try another backend.
func startEnv(ctx context.Context) (*Server, error) {
	dsn := os.Getenv("PGTUNE_TEST_DATABASE_URL")
	if dsn == "" {
		return nil, unavailable("PGTUNE_TEST_DATABASE_URL is not set")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("PGTUNE_TEST_DATABASE_URL does not parse (fix the URL)")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("PGTUNE_TEST_DATABASE_URL: cannot connect to %s@%s:%d: %v", cfg.User, cfg.Host, cfg.Port, connect.RedactString(err.Error(), cfg.Password))
	}
	conn.Close(ctx)
	return &Server{Backend: BackendEnv, AdminDSN: dsn, Detail: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)}, nil
}
