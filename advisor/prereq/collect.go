// Package prereq checks that a database is ready for pgtune's advisor: a supported server,
// pg_stat_statements preloaded, created and readable, the settings that make its numbers
// trustworthy, and HypoPG for what-if index proofs. Collect reads the facts (read-only); Evaluate
// turns them into checks and findings without any I/O, so the rules are tested as a matrix.
package prereq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/quote"
)

// State is what Collect observed.
type State struct {
	ServerVersion    string `json:"server_version"`
	ServerVersionNum int    `json:"server_version_num"`
	Database         string `json:"database"`
	User             string `json:"user"`
	Superuser        bool   `json:"superuser"`
	// ReadAllStats is true when the user may see every role's statements (superuser, or member of
	// pg_read_all_stats, which pg_monitor includes).
	ReadAllStats bool `json:"read_all_stats"`

	// PGSSLoaded is true when the pg_stat_statements library is loaded: its settings exist only
	// then, and any user may read them.
	PGSSLoaded bool `json:"pg_stat_statements_loaded"`
	// SharedPreloadLibraries is empty with SettingsHidden when the user may not read it (it needs
	// superuser or pg_read_all_settings, which pg_monitor includes).
	SharedPreloadLibraries string `json:"shared_preload_libraries"`
	SettingsHidden         bool   `json:"shared_preload_libraries_hidden,omitempty"`
	TrackIOTiming          string `json:"track_io_timing"`
	ComputeQueryID         string `json:"compute_query_id,omitempty"` // PG 14+
	PGSSTrack              string `json:"pg_stat_statements_track,omitempty"`
	PGSSMax                int    `json:"pg_stat_statements_max,omitempty"`

	// PGSSInstalled is the version of pg_stat_statements created in this database ("" if none),
	// PGSSSchema its schema, PGSSDefault the version the server's packages offer.
	PGSSInstalled string `json:"pg_stat_statements_installed,omitempty"`
	PGSSSchema    string `json:"pg_stat_statements_schema,omitempty"`
	PGSSDefault   string `json:"pg_stat_statements_default,omitempty"`
	// PGSSDealloc is pg_stat_statements_info.dealloc: entries evicted since the last reset (1.9+);
	// -1 when unknown.
	PGSSDealloc int64 `json:"pg_stat_statements_dealloc"`

	HypoPGAvailable bool   `json:"hypopg_available"`
	HypoPGInstalled string `json:"hypopg_installed,omitempty"`

	// Tables counts the user tables; Unreadable those the user has no SELECT on (EXPLAIN, and so
	// every planner proof, needs it), with up to five of their names.
	Tables             int      `json:"tables"`
	Unreadable         int      `json:"unreadable_tables"`
	UnreadableExamples []string `json:"unreadable_examples,omitempty"`
	// MayUntrack: the user may SET pg_stat_statements.track (superuser, or GRANT SET ON
	// PARAMETER on 15+), so pgtune's sessions record nothing there.
	MayUntrack bool `json:"may_untrack"`
}

const (
	serverQuery = connect.Marker + `SELECT pg_catalog.current_setting('server_version'),
       pg_catalog.current_setting('server_version_num')::int,
       pg_catalog.current_database(), current_user,
       r.rolsuper,
       r.rolsuper OR pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'),
       CASE WHEN r.rolsuper OR pg_catalog.pg_has_role(current_user, 'pg_read_all_settings', 'USAGE')
            THEN pg_catalog.current_setting('shared_preload_libraries') END,
       pg_catalog.current_setting('pg_stat_statements.max', true) IS NOT NULL,
       pg_catalog.current_setting('track_io_timing'),
       coalesce(pg_catalog.current_setting('compute_query_id', true), ''),
       coalesce((SELECT reset_val FROM pg_catalog.pg_settings WHERE name = 'pg_stat_statements.track'), ''),
       coalesce(pg_catalog.current_setting('pg_stat_statements.max', true), '0')
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`

	extensionsQuery = connect.Marker + `SELECT a.name, coalesce(a.default_version, ''), coalesce(e.extversion, ''), coalesce(n.nspname, '')
FROM pg_catalog.pg_available_extensions a
LEFT JOIN pg_catalog.pg_extension e ON e.extname = a.name
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
WHERE a.name IN ('pg_stat_statements', 'hypopg')`

	// tablesQuery counts the user tables and those the user may not SELECT from.
	tablesQuery = connect.Marker + `SELECT count(*)::int, count(*) FILTER (WHERE NOT pg_catalog.has_table_privilege(c.oid, 'SELECT'))::int,
       coalesce((pg_catalog.array_agg(pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) ORDER BY c.reltuples DESC)
                 FILTER (WHERE NOT pg_catalog.has_table_privilege(c.oid, 'SELECT')))[1:5], '{}')
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'`

	// untrackQuery (15+) asks whether the user may set pg_stat_statements.track.
	untrackQuery = connect.Marker + `SELECT pg_catalog.has_parameter_privilege('pg_stat_statements.track', 'SET')`

	// deallocQuery reads pg_stat_statements_info (extension 1.9+) in the extension's schema.
	deallocQuery = connect.Marker + `SELECT dealloc FROM %s.pg_stat_statements_info`
)

// Collect reads the state in a read-only transaction with a statement timeout; it changes nothing.
func Collect(ctx context.Context, conn *pgx.Conn) (*State, error) {
	// BEGIN and ROLLBACK carry the marker (pgx's BeginTx would send them bare, and
	// pg_stat_statements would count them as the application's).
	if _, err := conn.Exec(ctx, connect.Marker+"BEGIN READ ONLY"); err != nil {
		return nil, fmt.Errorf("begin a read-only transaction: %w", err)
	}
	defer conn.Exec(context.Background(), connect.Marker+"ROLLBACK") //nolint:errcheck // read-only: nothing to keep
	tx := conn
	if _, err := tx.Exec(ctx, connect.Marker+"SET LOCAL statement_timeout = '10s'"); err != nil {
		return nil, fmt.Errorf("set statement_timeout: %w", err)
	}
	s := &State{PGSSDealloc: -1}
	var maxStr string
	var libs *string
	err := tx.QueryRow(ctx, serverQuery).Scan(&s.ServerVersion, &s.ServerVersionNum, &s.Database, &s.User,
		&s.Superuser, &s.ReadAllStats, &libs, &s.PGSSLoaded, &s.TrackIOTiming, &s.ComputeQueryID, &s.PGSSTrack, &maxStr)
	if err != nil {
		return nil, fmt.Errorf("read server settings: %w", err)
	}
	if libs != nil {
		s.SharedPreloadLibraries = *libs
	} else {
		s.SettingsHidden = true
	}
	s.PGSSMax, _ = strconv.Atoi(maxStr)

	rows, err := tx.Query(ctx, extensionsQuery)
	if err != nil {
		return nil, fmt.Errorf("read extensions: %w", err)
	}
	for rows.Next() {
		var name, def, installed, schema string
		if err := rows.Scan(&name, &def, &installed, &schema); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read extensions: %w", err)
		}
		switch name {
		case "pg_stat_statements":
			s.PGSSDefault, s.PGSSInstalled, s.PGSSSchema = def, installed, schema
		case "hypopg":
			s.HypoPGAvailable, s.HypoPGInstalled = true, installed
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read extensions: %w", err)
	}

	if err := tx.QueryRow(ctx, tablesQuery).Scan(&s.Tables, &s.Unreadable, &s.UnreadableExamples); err != nil {
		return nil, fmt.Errorf("read table privileges: %w", err)
	}
	s.MayUntrack = s.Superuser
	if !s.Superuser && s.ServerVersionNum >= 150000 && s.PGSSLoaded {
		if err := tx.QueryRow(ctx, untrackQuery).Scan(&s.MayUntrack); err != nil {
			return nil, fmt.Errorf("read parameter privileges: %w", err)
		}
	}

	if s.PGSSInstalled != "" && versionAtLeast(s.PGSSInstalled, 1, 9) && s.PGSSLoaded {
		q := fmt.Sprintf(deallocQuery, quote.Ident(s.PGSSSchema))
		if err := tx.QueryRow(ctx, q).Scan(&s.PGSSDealloc); err != nil {
			// Readable only with pg_read_all_stats on some versions; the other checks still stand.
			s.PGSSDealloc = -1
			if !isPermission(err) {
				return nil, fmt.Errorf("read pg_stat_statements_info: %w", err)
			}
		}
	}
	return s, nil
}

func isPermission(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501" // insufficient_privilege
}

// preloaded reports whether pg_stat_statements is in a shared_preload_libraries value.
func preloaded(libs string) bool {
	for _, l := range strings.Split(libs, ",") {
		l = strings.Trim(strings.TrimSpace(l), `"`)
		if l == "pg_stat_statements" || strings.HasSuffix(l, "/pg_stat_statements") {
			return true
		}
	}
	return false
}

// versionAtLeast compares an extension version "major.minor".
func versionAtLeast(v string, major, minor int) bool {
	a, b, _ := strings.Cut(v, ".")
	ma, err1 := strconv.Atoi(a)
	mi, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}
