package health

import (
	"strings"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/advisor/model"
)

var day = time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)

func table(name string, rows float64, stats *model.TableStats, opts ...string) model.Table {
	return model.Table{Schema: "public", Name: name, Kind: "table", RowEstimate: rows, Pages: 10, Stats: stats, Reloptions: opts}
}

func rules(fs []model.Finding) map[string]model.Finding {
	out := map[string]model.Finding{}
	for _, f := range fs {
		out[f.Rule+" "+f.Table] = f
	}
	return out
}

func TestTableStatistics(t *testing.T) {
	snap := &model.Snapshot{
		Source: "live",
		Settings: []model.Setting{{Name: "autovacuum_analyze_threshold", Setting: "50"},
			{Name: "autovacuum_analyze_scale_factor", Setting: "0.1"}},
		Tables: []model.Table{
			table("never", 5000, &model.TableStats{LiveTuples: 5000, ModSinceAnalyze: 5000}),
			table("never_unused", 5000, &model.TableStats{LiveTuples: 5000}),
			// golang-migrate's table: a row rewritten on every migration, read by every run.
			table("schema_migrations", 0, &model.TableStats{LiveTuples: 0, Inserts: 3, ModSinceAnalyze: 5}),
			{Schema: "public", Name: "empty", Kind: "table", Stats: &model.TableStats{}},
			table("stale", 100000, &model.TableStats{ModSinceAnalyze: 30000, LastAutoanalyze: &day}),
			table("fresh", 100000, &model.TableStats{ModSinceAnalyze: 15000, LastAnalyze: &day}),
			// its own scale factor makes 15,000 changes stale
			table("tuned", 100000, &model.TableStats{ModSinceAnalyze: 15000, LastAnalyze: &day}, "autovacuum_analyze_scale_factor=0.02"),
			{Schema: "public", Name: "parent", Kind: "partitioned"},
			{Schema: "public", Name: "analysed_parent", Kind: "partitioned"},
		},
		ColumnStats: []model.ColumnStat{{Schema: "public", Table: "analysed_parent", Column: "a", Inherited: true}},
	}
	w := &model.Workload{Tables: []*model.TableAccess{{Table: "public.never", TimeShare: 0.3}, {Table: "public.stale", TimeShare: 0.01},
		{Table: "public.schema_migrations", TimeShare: 0.2}}}
	got := rules(Analyze(model.NewCatalog(snap), w))
	want := map[string]model.Severity{
		"statistics.never_analyzed public.never":        model.SeverityHigh,
		"statistics.never_analyzed public.never_unused": model.SeverityLow,
		// A handful of rows is low however often it is read, as maintain plan grades it.
		"statistics.never_analyzed public.schema_migrations":  model.SeverityLow,
		"statistics.stale public.stale":                       model.SeverityMedium,
		"statistics.stale public.tuned":                       model.SeverityLow,
		"statistics.partitioned_never_analyzed public.parent": model.SeverityLow,
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

func keysOf(m map[string]model.Finding) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestPgStatStatementsHealth(t *testing.T) {
	reset := day
	snap := &model.Snapshot{
		Server: model.Server{User: "monitor"},
		Statements: model.Statements{Max: 1000, Dealloc: 42, StatsReset: &reset, Hidden: 30, HiddenCalls: 900, HiddenMs: 500,
			Rows: make([]model.StatementRow, 900)},
	}
	w := &model.Workload{TotalExecMs: 1500, Unmodelled: []model.ProblemCount{{Problem: model.TextTruncated, Statements: 2, Calls: 10}}}
	got := rules(Analyze(model.NewCatalog(snap), w))
	for k, check := range map[string]func(model.Finding) bool{
		"statistics.pg_stat_statements.evictions ": func(f model.Finding) bool {
			return f.Severity == model.SeverityMedium && strings.Contains(f.SQL, "pg_stat_statements.max = 10000") && strings.Contains(f.Action, "restart")
		},
		"statistics.pg_stat_statements.capacity ": func(f model.Finding) bool { return strings.Contains(f.Title, "930 entries of its 1000") },
		"statistics.pg_stat_statements.hidden ": func(f model.Finding) bool {
			return f.Severity == model.SeverityHigh && f.SQL == "GRANT pg_read_all_stats TO monitor;" && f.Impact == 0.25
		},
		"statistics.unmodelled_statements ": func(f model.Finding) bool {
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
	rows := make([]model.StatementRow, 10)
	for i := range rows {
		since := day.Add(time.Hour) // old
		if i >= 7 {
			since = day.Add(95 * time.Hour) // made again after an eviction
		}
		rows[i].StatsSince = &since
	}
	snap := &model.Snapshot{TakenAt: taken, Statements: model.Statements{Max: 1000, Dealloc: 5, StatsReset: &reset, Rows: rows}}
	f := rules(Analyze(model.NewCatalog(snap), &model.Workload{}))["statistics.pg_stat_statements.evictions "]
	if v, ok := f.Evidence.Get("entries_younger_than_a_tenth_of_the_window"); !ok || v != 3 || !strings.Contains(f.Detail, "3 of the 10 entries (30 %)") {
		t.Errorf("evictions finding: %+v", f)
	}
	// Before 1.11 nothing is dated: the finding stays as it was.
	for i := range rows {
		rows[i].StatsSince = nil
	}
	f = rules(Analyze(model.NewCatalog(snap), &model.Workload{}))["statistics.pg_stat_statements.evictions "]
	if _, ok := f.Evidence.Get("entries_younger_than_a_tenth_of_the_window"); ok {
		t.Errorf("undated entries counted: %+v", f)
	}
}
