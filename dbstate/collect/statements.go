package collect

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/quote"
)

// pg_stat_statements' columns changed with its versions (PostgreSQL 13 shipped 1.8, 14 1.9, 15
// and 16 1.10, 17 1.11, 18 1.12). The query is gated on the version installed in the database,
// not on the server's: after pg_upgrade the old version stays until ALTER EXTENSION ... UPDATE.
const (
	// statementsQuery: %[1]s toplevel, %[2]s read time, %[3]s write time, %[4]s stats_since and
	// minmax_stats_since, %[6]s the parallel workers to launch and launched and wal_buffers_full,
	// %[5]s the extension's schema.
	statementsQuery = connect.Marker + `SELECT s.queryid, coalesce(r.rolname, ''), %[1]s, coalesce(s.query, ''),
       s.calls, s.total_exec_time, s.min_exec_time, s.max_exec_time, s.mean_exec_time, s.stddev_exec_time,
       s.plans, s.total_plan_time, s.rows,
       s.shared_blks_hit, s.shared_blks_read, s.shared_blks_dirtied, s.shared_blks_written,
       s.temp_blks_read, s.temp_blks_written, %[2]s, %[3]s, s.wal_bytes::float8, %[4]s, %[6]s,
       s.userid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
FROM %[5]s.pg_stat_statements(true) s
LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid
WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())`

	toplevelV9       = "s.toplevel"
	toplevelV8       = "true"
	readTimeV11      = "s.shared_blk_read_time"
	writeTimeV11     = "s.shared_blk_write_time"
	readTimeV8       = "s.blk_read_time"
	writeTimeV8      = "s.blk_write_time"
	statsSinceV11    = "s.stats_since, s.minmax_stats_since"
	statsSinceBefore = "NULL::timestamptz, NULL::timestamptz"
	parallelV12      = "s.parallel_workers_to_launch, s.parallel_workers_launched, s.wal_buffers_full"
	parallelBefore   = "-1::int8, -1::int8, 0::int8"

	// entriesQuery counts the entries of every database and role, without their texts.
	entriesQuery = connect.Marker + `SELECT count(*) FROM %s.pg_stat_statements(false)`

	// statementsInfoQuery reads evictions and the last reset (1.9+).
	statementsInfoQuery = connect.Marker + `SELECT dealloc, stats_reset FROM %s.pg_stat_statements_info`
)

func collectStatements(ctx context.Context, tx querier, snap *dbstate.Snapshot, o Options) error {
	st := &snap.Statements
	st.Untracked = o.Untracked
	// From 18 on pg_stat_statements keeps a statement's text from its first token, so pgtune's
	// leading /* pgtune */ marker is lost there: unless its sessions record nothing, every row of
	// the role pgtune connects as is taken for pgtune's (give pgtune a role of its own).
	markerless := snap.Server.VersionNum >= 180000 && !o.Untracked
	st.Dealloc = -1
	if v, ok := snap.Setting("pg_stat_statements.max"); ok {
		st.Max, _ = strconv.Atoi(v)
	}
	if v, ok := snap.Setting("track_activity_query_size"); ok {
		st.TrackActivityQuerySize, _ = strconv.Atoi(v)
	}
	ext := snap.Extension("pg_stat_statements")
	if ext == nil {
		fix := "CREATE EXTENSION pg_stat_statements; in database " + snap.Server.Database
		if st.Max == 0 {
			fix = "add pg_stat_statements to shared_preload_libraries and restart PostgreSQL, then " + fix
		}
		return &Error{Problem: "pg_stat_statements is not created in database " + snap.Server.Database +
			", so pgtune cannot see the workload", Fix: fix}
	}
	st.ExtensionVersion = ext.Version
	minor, ok := extensionMinor(ext.Version)
	if !ok || minor < 8 {
		return &Error{Problem: fmt.Sprintf("pg_stat_statements %s is older than pgtune reads (1.8, PostgreSQL 13)", ext.Version),
			Fix: "ALTER EXTENSION pg_stat_statements UPDATE;"}
	}
	if st.Max == 0 {
		return &Error{Problem: "pg_stat_statements is created but not loaded, so it records nothing",
			Fix: "add pg_stat_statements to shared_preload_libraries (ALTER SYSTEM SET shared_preload_libraries = '<current>,pg_stat_statements') and restart PostgreSQL"}
	}
	schema := quote.Ident(ext.Schema)
	rows, err := tx.Query(ctx, statementsSQL(minor, schema))
	if err != nil {
		if isCode(err, "55000") {
			return &Error{Problem: "pg_stat_statements must be loaded via shared_preload_libraries", Err: err,
				Fix: "ALTER SYSTEM SET shared_preload_libraries = '<current>,pg_stat_statements'; then restart PostgreSQL"}
		}
		if isCode(err, "42501") {
			return &Error{Problem: "permission denied reading pg_stat_statements", Err: err,
				Fix: fmt.Sprintf("GRANT pg_read_all_stats TO %s; (or GRANT pg_monitor)", quote.Ident(snap.Server.User))}
		}
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r dbstate.StatementRow
		var queryID *int64
		var own bool
		if err := rows.Scan(&queryID, &r.User, &r.Toplevel, &r.Query, &r.Calls, &r.TotalExecMs, &r.MinExecMs, &r.MaxExecMs,
			&r.MeanExecMs, &r.StddevExecMs, &r.Plans, &r.TotalPlanMs, &r.Rows,
			&r.SharedBlksHit, &r.SharedBlksRead, &r.SharedBlksDirt, &r.SharedBlksWrit, &r.TempBlksRead, &r.TempBlksWrit,
			&r.BlkReadMs, &r.BlkWriteMs, &r.WalBytes, &r.StatsSince, &r.MinMaxStatsSince,
			&r.ParallelWorkersToLaunch, &r.ParallelWorkersLaunched, &r.WalBuffersFull, &own); err != nil {
			return err
		}
		if own {
			st.OwnRole++
		}
		switch {
		case queryID == nil || r.Query == "<insufficient privilege>":
			// Another role's statement, hidden from a user without pg_read_all_stats: counted,
			// so the report can say how much of the workload it cannot see.
			st.Hidden++
			st.HiddenCalls += r.Calls
			st.HiddenMs += r.TotalExecMs
			continue
		case strings.HasPrefix(r.Query, connect.Marker), own && (!r.Toplevel || markerless || untrackPreamble(r.Query)):
			st.Own++
			continue
		case (!r.Toplevel || minor < 9) && IsInternal(r.Query):
			st.Internal++
			st.InternalCalls += r.Calls
			st.InternalMs += r.TotalExecMs
			continue
		}
		r.QueryID = dbstate.QueryID(*queryID)
		utc(r.StatsSince)
		utc(r.MinMaxStatsSince)
		st.Rows = append(st.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()

	if err := tx.QueryRow(ctx, fmt.Sprintf(entriesQuery, schema)).Scan(&st.Entries); err != nil {
		return fmt.Errorf("count pg_stat_statements entries: %w", err)
	}
	if minor >= 9 {
		var reset *time.Time
		err := tx.QueryRow(ctx, fmt.Sprintf(statementsInfoQuery, schema)).Scan(&st.Dealloc, &reset)
		if err != nil {
			return fmt.Errorf("pg_stat_statements_info: %w", err)
		}
		utc(reset)
		st.StatsReset = reset
	}
	return nil
}

// untrackPreamble reports the two statements of pgtune's that run before connect.Untrack turns
// tracking off, as pg_stat_statements records them without their marker (18+).
func untrackPreamble(q string) bool {
	q = strings.TrimSpace(q)
	return strings.HasPrefix(q, "SET pg_stat_statements.track") || strings.HasPrefix(q, "SELECT pg_catalog.current_setting($1) ~ $2")
}

// PostgreSQL's RI triggers (ri_triggers.c) run these, per row, as nested statements: the
// referenced row's check and the referencing rows' check (SELECT 1 FROM [ONLY] t x WHERE ...
// OPERATOR(pg_catalog.=) ... FOR KEY SHARE OF x, the 1 normalised to $n), the cascades
// (DELETE FROM / UPDATE [ONLY] t ... WHERE $1 OPERATOR(pg_catalog.=) "col") and ADD FOREIGN KEY's
// validation (SELECT fk."col" FROM [ONLY] t fk LEFT OUTER JOIN [ONLY] p pk ON ( pk."id"
// OPERATOR(pg_catalog.=) fk."col") ...). No application writes SQL in these shapes.
var internalStatement = []*regexp.Regexp{
	regexp.MustCompile(`(?s)^SELECT (1|\$\d+) FROM (ONLY )?\S+ x WHERE .*OPERATOR\(pg_catalog\.=\).* FOR (KEY )?SHARE OF x$`),
	regexp.MustCompile(`(?s)^(DELETE FROM|UPDATE) (ONLY )?\S+ (SET .* )?WHERE \$1 OPERATOR\(pg_catalog\.=\) `),
	regexp.MustCompile(`(?s)^SELECT fk\."[^"]*(""[^"]*)*"(, fk\.\S+)* FROM (ONLY )?\S+ fk LEFT OUTER JOIN (ONLY )?\S+ pk ON \( ?pk\.\S+ OPERATOR\(pg_catalog\.=\) fk\.`),
}

// IsInternal reports whether a statement text is one PostgreSQL runs itself for a foreign key.
func IsInternal(query string) bool {
	q := strings.TrimSpace(query)
	for _, re := range internalStatement {
		if re.MatchString(q) {
			return true
		}
	}
	return false
}

// statementsSQL is the pg_stat_statements query for extension version 1.<minor> installed in
// schema (already quoted).
func statementsSQL(minor int, schema string) string {
	top, rd, wr, since, par := toplevelV8, readTimeV8, writeTimeV8, statsSinceBefore, parallelBefore
	if minor >= 9 {
		top = toplevelV9
	}
	if minor >= 11 {
		rd, wr, since = readTimeV11, writeTimeV11, statsSinceV11
	}
	if minor >= 12 {
		par = parallelV12
	}
	return fmt.Sprintf(statementsQuery, top, rd, wr, since, schema, par)
}

// extensionMinor reads the minor version of a "1.x" extension version.
func extensionMinor(v string) (int, bool) {
	major, minor, ok := strings.Cut(v, ".")
	if !ok || major != "1" {
		return 0, false
	}
	n, err := strconv.Atoi(minor)
	return n, err == nil
}
