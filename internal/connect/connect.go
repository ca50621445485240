// Package connect turns the user's connection settings into a pgx connection the same way for
// every pgtune command: --dsn, else DATABASE_URL, else libpq's PG* variables (which pgx reads
// itself). It also owns the two ways pgtune's own traffic identifies itself on the server, the
// application_name and the SQL comment marker, and the redaction that keeps passwords out of
// everything pgtune prints.
package connect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ApplicationName is set on every pgtune session so a DBA (and pgtune itself) can tell its
// connections apart in pg_stat_activity.
const ApplicationName = "pgtune"

// Marker starts every statement pgtune sends on its own behalf, so its queries can be recognised
// (and left out of the advice) in pg_stat_statements. Prepend it to SQL constants:
//
//	const q = connect.Marker + "SELECT ..."
const Marker = "/* pgtune */ "

// Source says where a connection string came from, for logs and error messages.
type Source string

// Sources, in precedence order.
const (
	SourceFlag        Source = "--dsn"
	SourceDatabaseURL Source = "DATABASE_URL"
	SourceLibpqEnv    Source = "PG* environment"
)

// Resolve picks the connection string: the --dsn flag, else DATABASE_URL, else the empty string,
// which makes pgx read PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE and the rest.
// In every case pgx fills gaps in the string from the PG* variables.
func Resolve(flagDSN string, getenv func(string) string) (dsn string, src Source) {
	if flagDSN != "" {
		return flagDSN, SourceFlag
	}
	if v := getenv("DATABASE_URL"); v != "" {
		return v, SourceDatabaseURL
	}
	return "", SourceLibpqEnv
}

// ErrConfig marks a connection string that could not be parsed.
var ErrConfig = errors.New("invalid connection settings")

// ParseConfig parses dsn into a pgx configuration with pgtune's application_name and a connect
// timeout (10 s unless the string or PGCONNECT_TIMEOUT sets one). The error never contains the
// password.
func ParseConfig(dsn string, src Source) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx redacts on a best-effort basis; do it properly before the text goes anywhere.
		return nil, fmt.Errorf("%w from %s: %s; fix the connection string (see 'pgtune help connection')",
			ErrConfig, src, RedactString(err.Error(), dsn))
	}
	cfg.RuntimeParams["application_name"] = ApplicationName
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	return cfg, nil
}

// Describe names the server a configuration points at (user@host:port/database), without the
// password, for logs and errors.
func Describe(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// Connect opens one connection. Its error names the server and the likely fix, never the password.
func Connect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, ConnectError(cfg, err)
	}
	return conn, nil
}

// ConnectError wraps a failure to connect with the server's description and a hint.
func ConnectError(cfg *pgx.ConnConfig, err error) error {
	hint := "check --dsn, DATABASE_URL or the PG* variables, and that the server is running"
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01", "28000":
			hint = "check the user name and password (PGPASSWORD or ~/.pgpass) and pg_hba.conf"
		case "3D000":
			hint = "check the database name"
		}
	}
	msg := attemptsText(err, pgErr)
	return &Error{Target: Describe(cfg), Msg: RedactString(msg, cfg.Password), Hint: hint, Err: err}
}

// attemptsText is what went wrong, once. pgx tries every address and, with sslmode=prefer, TLS
// then plain text, and joins every attempt's error: the same refusal twice, or a TLS refusal
// before the password failure that matters. The server's own error, when there is one, is the
// message; otherwise each distinct attempt, the TLS fallbacks left out when another remains.
func attemptsText(err error, pgErr *pgconn.PgError) string {
	if pgErr != nil {
		if pgErr.Detail != "" {
			return pgErr.Message + " (" + pgErr.Detail + ")"
		}
		return pgErr.Message
	}
	text := err.Error()
	if i := strings.Index(text, "`:"); strings.HasPrefix(text, "failed to connect to `") && i > 0 {
		text = text[i+2:] // the target, which the message names already
	}
	var lines, tls []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || slices.Contains(lines, l) || slices.Contains(tls, l):
		case strings.Contains(l, "tls error") || strings.Contains(l, "server refused TLS"):
			tls = append(tls, l)
		default:
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		lines = tls
	}
	return strings.Join(lines, "; ")
}

// Error is a failure to reach the database. Its message is already redacted.
type Error struct {
	Target string
	Msg    string
	Hint   string
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("cannot connect to %s: %s; %s", e.Target, e.Msg, e.Hint)
}

func (e *Error) Unwrap() error { return e.Err }

// untrackSQL turns pg_stat_statements off for this session: pgtune's own statements (and the
// nested executions its EXPLAINs record under track = all) then leave no row behind. The setting
// is PGC_SUSET: a superuser may, and on 15+ a role granted SET ON PARAMETER
// pg_stat_statements.track.
const untrackSQL = Marker + "SET pg_stat_statements.track = 'none'"

// UntrackFix is how to let pgtune's sessions turn pg_stat_statements off.
const UntrackFix = "GRANT SET ON PARAMETER pg_stat_statements.track TO %s; (PostgreSQL 15+) lets pgtune's sessions record nothing in pg_stat_statements"

// Untrack asks the server not to record this session's statements in pg_stat_statements, and
// reports whether it agreed. A refusal (no privilege; the SET itself is then recorded once) or
// a server without pg_stat_statements loaded is not an error: pgtune's statements then carry
// the marker and are left out of the workload.
func Untrack(ctx context.Context, conn *pgx.Conn) bool {
	var loaded bool
	if err := conn.QueryRow(ctx, Marker+"SELECT pg_catalog.current_setting('shared_preload_libraries') ~ 'pg_stat_statements'").Scan(&loaded); err != nil || !loaded {
		return false
	}
	_, err := conn.Exec(ctx, untrackSQL)
	return err == nil
}
