package health

import (
	"strings"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/workload"
)

var day = time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)

func table(name string, rows float64, stats *dbstate.TableStats, opts ...string) dbstate.Table {
	return dbstate.Table{Schema: "public", Name: name, Kind: "table", RowEstimate: rows, Pages: 10, Stats: stats, Reloptions: opts}
}

func rules(fs []finding.Finding) map[string]finding.Finding {
	out := map[string]finding.Finding{}
	for _, f := range fs {
		out[f.Rule+" "+f.Table] = f
	}
	return out
}

func TestTableStatistics(t *testing.T) {
	snap := &dbstate.Snapshot{
		Source: "live",
		Settings: []dbstate.Setting{{Name: "autovacuum_analyze_threshold", Setting: "50"},
			{Name: "autovacuum_analyze_scale_factor", Setting: "0.1"}},
		Tables: []dbstate.Table{
			table("never", 5000, &dbstate.TableStats{LiveTuples: 5000, ModSinceAnalyze: 5000}),
			table("never_unused", 5000, &dbstate.TableStats{LiveTuples: 5000}),
			// golang-migrate's table: a row rewritten on every migration, read by every run.
			table("schema_migrations", 0, &dbstate.TableStats{LiveTuples: 0, Inserts: 3, ModSinceAnalyze: 5}),
			{Schema: "public", Name: "empty", Kind: "table", Stats: &dbstate.TableStats{}},
			table("stale", 100000, &dbstate.TableStats{ModSinceAnalyze: 30000, LastAutoanalyze: &day}),
			table("fresh", 100000, &dbstate.TableStats{ModSinceAnalyze: 15000, LastAnalyze: &day}),
			// its own scale factor makes 15,000 changes stale
			table("tuned", 100000, &dbstate.TableStats{ModSinceAnalyze: 15000, LastAnalyze: &day}, "autovacuum_analyze_scale_factor=0.02"),
			{Schema: "public", Name: "parent", Kind: "partitioned"},
			{Schema: "public", Name: "analysed_parent", Kind: "partitioned"},
		},
		ColumnStats: []dbstate.ColumnStat{{Schema: "public", Table: "analysed_parent", Column: "a", Inherited: true}},
	}
	w := &workload.Workload{Tables: []*workload.TableAccess{{Table: "public.never", TimeShare: 0.3}, {Table: "public.stale", TimeShare: 0.01},
		{Table: "public.schema_migrations", TimeShare: 0.2}}}
	got := rules(Analyze(dbstate.NewCatalog(snap), w))
	want := map[string]finding.Severity{
		"statistics.never_analyzed public.never":        finding.SeverityHigh,
		"statistics.never_analyzed public.never_unused": finding.SeverityLow,
		// A handful of rows is low however often it is read, as maintain plan grades it.
		"statistics.never_analyzed public.schema_migrations":  finding.SeverityLow,
		"statistics.stale public.stale":                       finding.SeverityMedium,
		"statistics.stale public.tuned":                       finding.SeverityLow,
		"statistics.partitioned_never_analyzed public.parent": finding.SeverityLow,
	}
	if len(got) != len(want) {
		t.Errorf("findings: %v", keysOf(got))
	}
	for k, sev := range want {
		f, ok := got[k]
		if !ok {
			t.Errorf("missing %s", k)
			continue
		}
		if f.Severity != sev || !strings.HasPrefix(f.SQL, "ANALYZE public.") {
			t.Errorf("%s: severity %s, sql %q", k, f.Severity, f.SQL)
		}
	}
}

func keysOf(m map[string]finding.Finding) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPgStatStatementsHealth(t *testing.T) {
	reset := day
	snap := &dbstate.Snapshot{
		Server: dbstate.Server{User: "monitor"},
		Statements: dbstate.Statements{Max: 1000, Dealloc: 42, StatsReset: &reset, Hidden: 30, HiddenCalls: 900, HiddenMs: 500,
			Rows: make([]dbstate.StatementRow, 900)},
	}
	w := &workload.Workload{TotalExecMs: 1500, Unmodelled: []workload.ProblemCount{{Problem: workload.TextTruncated, Statements: 2, Calls: 10}}}
	got := rules(Analyze(dbstate.NewCatalog(snap), w))
	for k, check := range map[string]func(finding.Finding) bool{
		"statistics.pg_stat_statements.evictions ": func(f finding.Finding) bool {
			return f.Severity == finding.SeverityMedium && strings.Contains(f.SQL, "pg_stat_statements.max = 10000") && strings.Contains(f.Action, "restart")
		},
		"statistics.pg_stat_statements.capacity ": func(f finding.Finding) bool { return strings.Contains(f.Title, "930 entries of its 1000") },
		"statistics.pg_stat_statements.hidden ": func(f finding.Finding) bool {
			return f.Severity == finding.SeverityHigh && f.SQL == "GRANT pg_read_all_stats TO monitor;" && f.Impact == 0.25
		},
		"statistics.unmodelled_statements ": func(f finding.Finding) bool {
			return strings.Contains(f.Title, "2 statements could not be analysed: truncated query")
		},
	} {
		f, ok := got[k]
		if !ok || !check(f) {
			t.Errorf("%s: %v %+v", k, ok, f)
		}
	}
}

// pg_stat_statements 1.11 dates its entries: after evictions, the entries made in the last tenth of
// the statistics' window are counted in the evictions finding (their counts cover less time).
func TestEvictionsCountYoungEntries(t *testing.T) {
	reset := day
	taken := day.Add(100 * time.Hour)
	rows := make([]dbstate.StatementRow, 10)
	for i := range rows {
		since := day.Add(time.Hour) // old
		if i >= 7 {
			since = day.Add(95 * time.Hour) // made again after an eviction
		}
		rows[i].StatsSince = &since
	}
	snap := &dbstate.Snapshot{TakenAt: taken, Statements: dbstate.Statements{Max: 1000, Dealloc: 5, StatsReset: &reset, Rows: rows}}
	f := rules(Analyze(dbstate.NewCatalog(snap), &workload.Workload{}))["statistics.pg_stat_statements.evictions "]
	if v, ok := f.Evidence.Get("entries_younger_than_a_tenth_of_the_window"); !ok || v != 3 || !strings.Contains(f.Detail, "3 of the 10 entries (30 %)") {
		t.Errorf("evictions finding: %+v", f)
	}
	// Before 1.11 nothing is dated: the finding stays as it was.
	for i := range rows {
		rows[i].StatsSince = nil
	}
	f = rules(Analyze(dbstate.NewCatalog(snap), &workload.Workload{}))["statistics.pg_stat_statements.evictions "]
	if _, ok := f.Evidence.Get("entries_younger_than_a_tenth_of_the_window"); ok {
		t.Errorf("undated entries counted: %+v", f)
	}
}
