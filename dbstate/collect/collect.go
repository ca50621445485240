// Package collect reads a live database into a dbstate.Snapshot: what it runs (pg_stat_statements
// and samples of pg_stat_activity), what it is made of (catalog) and what its statistics say.
//
// Every query is a constant in the file of the catalog source it reads, starts with the
// /* pgtune */ marker and runs in one READ ONLY, REPEATABLE READ transaction with a statement
// timeout and a short lock timeout, so collection changes nothing, sees one consistent catalog,
// and never queues behind (or in front of) the application's DDL. It needs only pg_monitor (or
// pg_read_all_stats): what a monitoring role cannot read is recorded in Snapshot.Gaps, not an
// error.
package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
)

// Options control Collect.
type Options struct {
	// StatementTimeout bounds every query (default 30 s).
	StatementTimeout time.Duration
	// SampleFor is how long to sample pg_stat_activity for statement texts with their literal
	// constants (0: one look).
	SampleFor time.Duration
	// Samples are statement texts sampled earlier (by the caller, while the application was busy), merged with Collect's own.
	Samples []string
	// Redact removes secrets from statement texts before the snapshot is returned (query.Redact;
	// nil: every quoted literal is replaced).
	Redact func(string) (string, bool)
	// NoValues leaves out data values: pg_stats' most common values and histogram bounds, and
	// the statement samples. For snapshots that leave the building.
	NoValues bool
	// CatalogOnly reads the catalog and its statistics but not pg_stat_statements or samples
	// (for a linter, which needs no workload and no extension).
	CatalogOnly bool
	// Light reads only what sizing settings and planning maintenance need — the server, its
	// settings and activity, what holds back the xmin horizon, the tables with sizes from
	// relpages (taking no lock, so a table locked right now does not stop the read) and their
	// statistics — and nothing of the workload. It implies NoValues.
	Light bool
	// PgtuneVersion is recorded in the snapshot.
	PgtuneVersion string
	// Log receives progress at debug level; nil discards it.
	Log *slog.Logger
	// Progress, if set, is told which source is being read.
	Progress func(step string)
	// Untracked says pgtune's sessions run with pg_stat_statements.track = none
	// (connect.Untrack), so nothing of this run is recorded there. When it is false, Collect
	// tries to untrack its own session for the collection (and resets it after).
	Untracked bool

	replica bool // see Replica
}

// MinServerVersion is the oldest server pgtune reads (server_version_num).
const MinServerVersion = 130000

// Error is a collection failure that a DBA fixes on the server; Fix names how.
type Error struct {
	Problem string
	Fix     string
	Err     error
}

func (e *Error) Error() string {
	s := e.Problem
	if e.Fix != "" {
		s += "; fix: " + e.Fix
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Collect reads the database conn is connected to. It changes nothing.
func Collect(ctx context.Context, conn *pgx.Conn, o Options) (*dbstate.Snapshot, error) {
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = 30 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if !o.Untracked && connect.Untrack(ctx, conn) {
		// Collection's own statements leave no row; the caller's session tracks again after.
		o.Untracked = true
		defer conn.Exec(context.Background(), connect.Marker+"RESET pg_stat_statements.track") //nolint:errcheck // best effort
	}
	step := func(s string) {
		o.Log.Debug("collect", "step", s)
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	snap := &dbstate.Snapshot{
		Format: dbstate.SnapshotFormat, Version: dbstate.SnapshotVersion, Source: "live",
		TakenAt: time.Now().UTC().Truncate(time.Millisecond), PgtuneVersion: o.PgtuneVersion,
	}

	// Samples come first, outside the transaction: inside one, pg_stat_activity is read once and
	// cached until it ends.
	var samples []string
	if o.Light {
		o.NoValues = true
	}
	if !o.NoValues && !o.CatalogOnly {
		step("sampling pg_stat_activity")
		var err error
		if samples, err = sampleActivity(ctx, conn, o.SampleFor, o.StatementTimeout); err != nil {
			return nil, err
		}
	}

	// BEGIN and ROLLBACK carry the marker too (pgx's BeginTx would send them bare, and
	// pg_stat_statements would count them as the application's).
	if _, err := conn.Exec(ctx, connect.Marker+"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return nil, fmt.Errorf("begin a read-only transaction: %w", err)
	}
	defer conn.Exec(context.Background(), connect.Marker+"ROLLBACK") //nolint:errcheck // read-only: nothing to keep
	for _, set := range []string{
		fmt.Sprintf("SET LOCAL statement_timeout = %d", o.StatementTimeout.Milliseconds()),
		// Never wait behind an ALTER TABLE (and make the app's queries wait behind us).
		"SET LOCAL lock_timeout = '2s'",
		// The catalog queries' estimates are inflated by their set-returning functions (1,000
		// rows each), which crosses jit_above_cost: JIT then compiled the index query for
		// 140 ms of its 170 (PostgreSQL 17, 19 indexes). Nothing here runs long enough to gain.
		"SET LOCAL jit = off",
	} {
		if _, err := conn.Exec(ctx, connect.Marker+set); err != nil {
			return nil, fmt.Errorf("%s: %w", set, err)
		}
	}

	steps := []struct {
		name string
		run  func(context.Context, querier, *dbstate.Snapshot, Options) error
	}{
		{"server", collectServer},
		{"settings", collectSettings},
		{"server activity", collectActivity},
		{"xmin horizon", collectBlockers},
		{"extensions", collectExtensions},
		{"tables", collectTables},
		{"table statistics", collectTableStats},
		{"indexes", collectIndexes},
		{"index builds", collectIndexBuilds},
		{"constraints", collectConstraints},
		{"triggers", collectTriggers},
		{"views", collectViews},
		{"column statistics", collectColumnStats},
		{"replication", collectReplication},
		{"pg_stat_statements", collectStatements},
	}
	light := map[string]bool{"server": true, "settings": true, "server activity": true, "xmin horizon": true, "tables": true, "table statistics": true, "replication": true}
	// A replica's catalog and statistics are its primary's: only what it runs and scans is its own.
	replica := map[string]bool{"server": true, "settings": true, "extensions": true, "indexes": true, "pg_stat_statements": true}
	for _, s := range steps {
		if (o.CatalogOnly || o.Light) && s.name == "pg_stat_statements" {
			continue
		}
		if o.Light && !light[s.name] || o.replica && !replica[s.name] {
			continue
		}
		step(s.name)
		if err := s.run(ctx, conn, snap, o); err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				return nil, err
			}
			return nil, fmt.Errorf("read %s: %w%s", s.name, err, hint(err))
		}
	}
	if !o.NoValues {
		snap.Statements.Samples = mergeSorted(samples, o.Samples)
	}
	redactSecrets(snap, o.Redact)
	return snap, nil
}

// redactSecrets replaces the literals in statement texts that may carry secrets (a CREATE ROLE's
// PASSWORD, a user mapping's OPTIONS, a dblink connection string, a pgcrypto key), before the
// snapshot is kept, printed or written. pg_stat_statements stores utility statements as written,
// and pg_stat_activity shows every text as sent (the samples, and the sessions holding back the
// xmin horizon).
func redactSecrets(snap *dbstate.Snapshot, redact func(string) (string, bool)) {
	if redact == nil {
		redact = redactLiterals
	}
	for i := range snap.Statements.Rows {
		snap.Statements.Rows[i].Query, _ = redact(snap.Statements.Rows[i].Query)
	}
	samples := snap.Statements.Samples[:0]
	for _, s := range snap.Statements.Samples {
		r, _ := redact(s)
		samples = append(samples, r)
	}
	snap.Statements.Samples = slices.Compact(samples)
	// A view's definition is SQL as its owner wrote it (a dblink call's connection string).
	for i := range snap.Views {
		snap.Views[i].Definition, _ = redact(snap.Views[i].Definition)
	}
	// A session holding back the xmin horizon is shown with its query ("state: text").
	for i, b := range snap.Blockers {
		if state, text, ok := strings.Cut(b.Detail, ": "); ok && b.Kind == "session" {
			text, _ = redact(text)
			snap.Blockers[i].Detail = state + ": " + text
		}
	}
}

// redactLiterals is the fallback when no parser-backed Redact is given (the collector builds
// without the parser): every quoted literal of a text that is not a data statement goes. Callers
// that link the parser pass query.Redact, which also finds the keys and connection strings given
// to dblink and pgcrypto inside data statements.
func redactLiterals(sql string) (string, bool) {
	first := strings.ToUpper(strings.TrimLeft(commentRe.ReplaceAllString(sql, " "), " \t\r\n("))
	for _, kw := range []string{"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES", "TABLE", "MERGE"} {
		if strings.HasPrefix(first, kw) {
			return sql, false
		}
	}
	out := literalRe.ReplaceAllString(sql, "'<redacted>'")
	return out, out != sql
}

var commentRe = regexp.MustCompile(`(?s)^\s*(/\*.*?\*/|--[^\n]*\n)*`)

var literalRe = regexp.MustCompile(`(?s)'(?:[^']|'')*('|$)`)

// querier is the collection's connection, inside its read-only transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// hint adds the fix for the errors a read-only collection can meet.
func hint(err error) string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return ""
	}
	switch pgErr.Code {
	case "42501":
		return " (the user lacks a privilege: GRANT pg_monitor TO <user>)"
	case "55P03":
		return " (a table is locked by DDL right now; run again when it has finished)"
	case "57014":
		return " (a query hit the statement timeout; the server may be overloaded, or the catalog very large: raise --statement-timeout)"
	}
	return ""
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// userSchemas is the filter every catalog query applies: no system schemas, and nothing an
// extension owns (pg_cron's tables are not the application's to index).
const userSchemas = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'`

const notExtensionMember = `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')`
