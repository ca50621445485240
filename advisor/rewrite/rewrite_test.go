package rewrite_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/workload/build"

	"github.com/bookedbarber/pgtune/advisor/rewrite"
	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/workload"
)

const schema = `
CREATE TABLE bookings (id bigint PRIMARY KEY, user_id bigint, starts timestamptz NOT NULL, day date,
  email text, phone text, name text, status text, seats int);
CREATE TABLE users (id bigint PRIMARY KEY, email text UNIQUE);`

// buildWorkload builds a workload of statements, each with its calls and total time.
func buildWorkload(t *testing.T, rows ...dbstate.StatementRow) (*workload.Workload, *dbstate.Catalog) {
	t.Helper()
	for i := range rows {
		rows[i].QueryID = dbstate.QueryID(i + 1)
		if rows[i].Calls == 0 {
			rows[i].Calls = 100
		}
		if rows[i].TotalExecMs == 0 {
			rows[i].TotalExecMs = 100
		}
		if rows[i].Rows == 0 {
			rows[i].Rows = rows[i].Calls
		}
	}
	snap, err := build.SnapshotFromDump(schema, &dbstate.Statements{Rows: rows}, time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	cat := dbstate.NewCatalog(snap)
	return build.Workload(snap, cat, nil), cat
}

func find(fs []finding.Finding, rule string) *finding.Finding {
	for i := range fs {
		if fs[i].Rule == rule {
			return &fs[i]
		}
	}
	return nil
}

func TestRulesFireAndStayQuiet(t *testing.T) {
	cases := []struct {
		sql, rule, fix string
	}{
		{"SELECT 1 FROM bookings WHERE date(starts) = $1", "rewrite.non_sargable", "starts >= $1::date AND starts < $1::date + 1"},
		{"SELECT 1 FROM bookings WHERE date(starts) <= $1", "rewrite.non_sargable", "starts < $1::date + 1"},
		{"SELECT 1 FROM bookings WHERE starts::date > $1", "rewrite.non_sargable", "starts >= $1::date + 1"},
		{"SELECT 1 FROM bookings WHERE date(starts) BETWEEN $1 AND $2", "rewrite.non_sargable", "starts >= $1::date AND starts < $2::date + 1"},
		{"SELECT 1 FROM bookings WHERE date_trunc('month', starts) = $1", "rewrite.non_sargable", "starts >= $1 AND starts < $1 + interval '1 month'"},
		{"SELECT 1 FROM bookings WHERE starts + interval '2 hours' > $1", "rewrite.non_sargable", "starts > $1 - '2 hours'::interval"},
		{"SELECT 1 FROM bookings WHERE starts - $2 < $1", "rewrite.non_sargable", "starts < $1 + $2"},
		{"SELECT 1 FROM bookings WHERE id::text = $1", "rewrite.non_sargable", "id = CAST($1 AS bigint)"},
		{"SELECT 1 FROM bookings WHERE starts + make_interval(mins => seats) > $1", "rewrite.non_sargable", "redundant bound"},
		{"SELECT 1 FROM bookings WHERE starts >= $1 AND starts < $2", "", ""},
		{"SELECT 1 FROM bookings WHERE lower(email) = lower($1)", "", ""}, // an expression index, not a rewrite
		{"SELECT 1 FROM bookings WHERE date(day) = $1", "", ""},           // date() of a date column: no rewrite known
		{"SELECT 1 FROM bookings WHERE phone LIKE '%1234'", "rewrite.leading_wildcard", "gin_trgm_ops"},
		{"SELECT 1 FROM bookings WHERE phone ILIKE '_12%'", "rewrite.leading_wildcard", "CREATE EXTENSION IF NOT EXISTS pg_trgm"},
		{"SELECT 1 FROM bookings WHERE phone LIKE '1234%'", "", ""},
		{"SELECT 1 FROM bookings WHERE name ILIKE $1", "rewrite.ilike", "lower(name) text_pattern_ops"},
		{"SELECT 1 FROM bookings WHERE name ILIKE 'ab%'", "rewrite.ilike", "lower(name) LIKE lower('ab%')"},
		{"SELECT 1 FROM bookings WHERE user_id = $1 OR email = $2", "rewrite.or_across_columns", "UNION"},
		{"SELECT 1 FROM bookings WHERE status IS NULL OR status = $1", "", ""},
		{"SELECT 1 FROM bookings b JOIN users u ON u.id = b.user_id WHERE b.email = $1 OR u.email = $1", "rewrite.or_across_columns", "bookings.email"},
		{"SELECT id FROM bookings WHERE user_id = $1 ORDER BY starts DESC LIMIT 10 OFFSET 2000", "rewrite.offset_paging", "(starts, id) < ($last_starts, $last_id) ORDER BY starts DESC, id DESC"},
		{"SELECT id FROM bookings ORDER BY starts, name DESC OFFSET $1", "rewrite.offset_paging", "mixes directions"},
		{"SELECT id FROM bookings ORDER BY starts LIMIT 10 OFFSET 20", "", ""},
	}
	for _, c := range cases {
		w, cat := buildWorkload(t, dbstate.StatementRow{Query: c.sql})
		fs := rewrite.Analyze(w, cat)
		if c.rule == "" {
			if len(fs) > 0 {
				t.Errorf("%s: clean statement drew %s: %s", c.sql, fs[0].Rule, fs[0].Title)
			}
			continue
		}
		f := find(fs, c.rule)
		if f == nil {
			t.Errorf("%s: no %s (got %d findings)", c.sql, c.rule, len(fs))
			continue
		}
		if !strings.Contains(f.Fix(), c.fix) {
			t.Errorf("%s: fix %q lacks %q", c.sql, f.Fix(), c.fix)
		}
		if len(f.Statements) != 1 || f.Table == "" || f.Kind != finding.KindRewrite {
			t.Errorf("%s: %+v", c.sql, f)
		}
	}
}

// The same hidden column in two statements is one finding citing both; its severity follows the
// share of execution time they take.
func TestGroupingAndSeverity(t *testing.T) {
	w, cat := buildWorkload(t,
		dbstate.StatementRow{Query: "SELECT 1 FROM bookings WHERE date(starts) = $1", TotalExecMs: 300},
		dbstate.StatementRow{Query: "SELECT count(*) FROM bookings WHERE date(starts) = $1 AND user_id = $2", TotalExecMs: 100},
		dbstate.StatementRow{Query: "SELECT 1 FROM users WHERE id = $1", TotalExecMs: 9600},
	)
	fs := rewrite.Analyze(w, cat)
	if len(fs) != 1 || len(fs[0].Statements) != 2 || fs[0].Impact != 0.04 || fs[0].Severity != finding.SeverityMedium {
		t.Fatalf("%+v", fs)
	}
	// 4 % of the time is medium; a rare statement is still reported, as low.
	w, cat = buildWorkload(t,
		dbstate.StatementRow{Query: "SELECT 1 FROM bookings WHERE date(starts) = $1", TotalExecMs: 1},
		dbstate.StatementRow{Query: "SELECT 1 FROM users WHERE id = $1", TotalExecMs: 99999},
	)
	if fs := rewrite.Analyze(w, cat); len(fs) != 1 || fs[0].Severity != finding.SeverityLow {
		t.Errorf("rare statement: %+v", fs)
	}
}

func TestNPlusOne(t *testing.T) {
	other := dbstate.StatementRow{Query: "SELECT 1 FROM bookings WHERE user_id = $1", Calls: 5000}
	cases := []struct {
		row  dbstate.StatementRow
		want bool
	}{
		{dbstate.StatementRow{Query: "SELECT email FROM users WHERE id = $1", Calls: 3000}, true},
		{dbstate.StatementRow{Query: "UPDATE bookings SET status = $2 WHERE id = $1", Calls: 3000}, true},
		{dbstate.StatementRow{Query: "SELECT id FROM users WHERE email = $1", Calls: 3000}, true},                // a unique key too
		{dbstate.StatementRow{Query: "SELECT email FROM users WHERE id = $1", Calls: 999}, false},                // too few calls
		{dbstate.StatementRow{Query: "SELECT email FROM users WHERE id = $1", Calls: 3000, Rows: 9000}, false},   // not one row
		{dbstate.StatementRow{Query: "SELECT email FROM bookings WHERE user_id = $1", Calls: 3000}, false},       // not a unique key
		{dbstate.StatementRow{Query: "SELECT email FROM users WHERE id = $1 OR email = $2", Calls: 3000}, false}, // not a key lookup
	}
	for _, c := range cases {
		w, cat := buildWorkload(t, c.row, other)
		got := find(rewrite.Analyze(w, cat), "rewrite.n_plus_one") != nil
		if got != c.want {
			t.Errorf("%s (%d calls): N+1 %v, want %v", c.row.Query, c.row.Calls, got, c.want)
		}
	}
	// A lookup that is a small share of all calls is not an N+1 suspect.
	w, cat := buildWorkload(t, dbstate.StatementRow{Query: "SELECT email FROM users WHERE id = $1", Calls: 3000},
		dbstate.StatementRow{Query: "SELECT 1 FROM bookings WHERE user_id = $1", Calls: 50000})
	if find(rewrite.Analyze(w, cat), "rewrite.n_plus_one") != nil {
		t.Error("6 % of calls flagged as N+1")
	}
}

// Statements on the system catalogs (pg_dump's, a monitoring tool's) get no advice.
func TestSystemStatementsAreLeftAlone(t *testing.T) {
	w, cat := buildWorkload(t, dbstate.StatementRow{Query: "SELECT 1 FROM pg_catalog.pg_class c WHERE c.relkind = $1 OR c.relnamespace = $2"})
	if fs := rewrite.Analyze(w, cat); len(fs) != 0 {
		t.Errorf("%+v", fs)
	}
}
