// Package health checks that the numbers the advisor (and the planner) rely on can be trusted:
// tables never analysed or with statistics gone stale after bulk changes, partitioned parents
// autovacuum never analyses, pg_stat_statements evicting entries or near its capacity, rows
// hidden from the user, and statements whose text could not be read. It reads the snapshot and
// the workload only; it does no I/O.
package health

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/workload"

	"github.com/bookedbarber/pgtune/internal/quote"
)

// Thresholds.
const (
	// StaleFactor: statistics are stale when the rows changed since the last analyse exceed this
	// many times what would trigger autoanalyze (so autovacuum is not about to fix it).
	StaleFactor = 2.0
	// CapacityShare: pg_stat_statements is near capacity at this share of pg_stat_statements.max.
	CapacityShare = 0.9
)

// Analyze returns the health findings.
func Analyze(cat *dbstate.Catalog, w *workload.Workload) []finding.Finding {
	snap := cat.Snapshot()
	var out []finding.Finding
	used := map[string]float64{}
	for _, ta := range w.Tables {
		used[ta.Table] = ta.TimeShare
	}
	for i := range snap.Tables {
		t := &snap.Tables[i]
		if f, ok := neverAnalyzed(cat, t, used); ok {
			out = append(out, f)
		} else if f, ok := stale(snap, t, used); ok {
			out = append(out, f)
		}
	}
	out = append(out, statements(snap, w)...)
	return out
}

func analyzeSQL(t *dbstate.Table) string { return "ANALYZE " + quote.QualifiedKey(t.Key()) + ";" }

// smallTable is the row count under which a table never analysed is only low: maintain plan's bar.
const smallTable = 1000

func neverAnalyzed(cat *dbstate.Catalog, t *dbstate.Table, used map[string]float64) (finding.Finding, bool) {
	snap := cat.Snapshot()
	share, read := used[t.Key()]
	sev := finding.SeverityLow
	if read {
		sev = max(finding.SeverityMedium, finding.SeverityForShare(share))
	}
	if t.Kind == "partitioned" {
		// Autovacuum never analyses a partitioned parent, so queries planned against the parent
		// as a whole have no statistics for it. pg_stats' inherited rows tell whether anyone did.
		if snap.Source != "live" || hasGap(snap, "column_stats") {
			return finding.Finding{}, false
		}
		for _, cs := range snap.ColumnStats {
			if cs.Schema == t.Schema && cs.Table == t.Name {
				return finding.Finding{}, false
			}
		}
		return finding.Finding{
			Rule: "statistics.partitioned_never_analyzed", Kind: finding.KindStatistics, Table: t.Key(), Severity: sev,
			Title: "partitioned table " + t.Key() + " has never been analysed",
			Detail: "Autovacuum analyses partitions but never their partitioned parent, so the planner has no " +
				"statistics for queries that span partitions (joins and aggregates over the parent). Analyse it by " +
				"hand, and again after large changes (pgtune maintain can schedule it).",
			Evidence: finding.Facts("kind", "partitioned", "workload_time_share", finding.Round(share, 4)),
			SQL:      analyzeSQL(t), Impact: share,
		}, true
	}
	if t.Stats == nil || t.Kind != "table" || t.Stats.LastAnalyzed() != nil || t.Stats.AnalyzeCount+t.Stats.AutoanalyzeCount > 0 {
		return finding.Finding{}, false
	}
	if t.Stats.LiveTuples == 0 && t.Pages == 0 && t.RowEstimate <= 0 && t.Stats.ModSinceAnalyze == 0 {
		return finding.Finding{}, false // empty and untouched: nothing to analyse yet
	}
	// A handful of rows (a migrations table) is planned well enough without statistics: the same
	// bar as maintain plan's, so the two never grade the table apart.
	small := t.Stats.LiveTuples+t.Stats.Inserts < smallTable && t.RowEstimate < smallTable
	switch {
	case small:
		sev = finding.SeverityLow
	case read:
		sev = max(finding.SeverityHigh, sev)
	}
	return finding.Finding{
		Rule: "statistics.never_analyzed", Kind: finding.KindStatistics, Table: t.Key(), Severity: sev,
		Title: t.Key() + " has never been analysed",
		Detail: "Without statistics the planner guesses row counts and value distributions, and picks plans " +
			"(join orders, index or sequential scans) accordingly. Autovacuum analyses a table only once enough rows " +
			"changed; a table bulk-loaded and not yet analysed waits until then.",
		Evidence: finding.Facts("n_live_tup", t.Stats.LiveTuples, "n_mod_since_analyze", t.Stats.ModSinceAnalyze,
			"row_estimate", t.RowEstimate, "workload_time_share", finding.Round(share, 4)),
		SQL: analyzeSQL(t), Impact: share,
	}, true
}

// reloption reads a per-table storage parameter ("autovacuum_analyze_scale_factor=0.05").
func reloption(t *dbstate.Table, name string) (string, bool) {
	for _, o := range t.Reloptions {
		if k, v, ok := strings.Cut(o, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// setting reads a numeric parameter: the table's own, else the server's, else def.
func setting(snap *dbstate.Snapshot, t *dbstate.Table, name string, def float64) float64 {
	if v, ok := reloption(t, name); ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	if v, ok := snap.Setting(name); ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return def
}

func stale(snap *dbstate.Snapshot, t *dbstate.Table, used map[string]float64) (finding.Finding, bool) {
	if t.Stats == nil || t.Kind != "table" || t.Stats.LastAnalyzed() == nil {
		return finding.Finding{}, false
	}
	threshold := setting(snap, t, "autovacuum_analyze_threshold", 50) +
		setting(snap, t, "autovacuum_analyze_scale_factor", 0.1)*max(t.RowEstimate, 0)
	mods := float64(t.Stats.ModSinceAnalyze)
	if mods <= StaleFactor*threshold || mods < 1000 {
		return finding.Finding{}, false
	}
	share, read := used[t.Key()]
	sev := finding.SeverityLow
	if read {
		sev = max(finding.SeverityMedium, finding.SeverityForShare(share))
	}
	autovacOff := false
	if v, ok := reloption(t, "autovacuum_enabled"); ok && (v == "false" || v == "off") {
		autovacOff = true
	}
	if v, ok := snap.Setting("autovacuum"); ok && v == "off" {
		autovacOff = true
	}
	detail := fmt.Sprintf("%.0f rows changed since the last analyse, %.1f times what triggers autoanalyze (%.0f): "+
		"the planner's row counts and value distributions describe the table as it was. ", mods, mods/threshold, threshold)
	if autovacOff {
		detail += "Autovacuum is off for this table, so nothing will analyse it."
	} else {
		detail += "Autovacuum has not caught up (it may be busy elsewhere, or throttled); analyse it now, and " +
			"consider a lower autovacuum_analyze_scale_factor for it."
	}
	last := t.Stats.LastAnalyzed().Format("2006-01-02 15:04 UTC")
	return finding.Finding{
		Rule: "statistics.stale", Kind: finding.KindStatistics, Table: t.Key(), Severity: sev,
		Title:  fmt.Sprintf("%s: statistics are stale (%.0f%% of its rows changed since %s)", t.Key(), 100*mods/max(t.RowEstimate, 1), last),
		Detail: detail,
		Evidence: finding.Facts("n_mod_since_analyze", t.Stats.ModSinceAnalyze, "autoanalyze_threshold", finding.Round(threshold, 4),
			"row_estimate", t.RowEstimate, "last_analyze", last, "workload_time_share", finding.Round(share, 4)),
		SQL: analyzeSQL(t), Impact: share,
	}, true
}

func hasGap(snap *dbstate.Snapshot, what string) bool {
	for _, g := range snap.Gaps {
		if g.What == what {
			return true
		}
	}
	return false
}

// youngEntries counts the entries pg_stat_statements 1.11+ dates (stats_since) and those created in
// the last tenth of the window from its statistics' reset (or the oldest entry) to the snapshot.
func youngEntries(st *dbstate.Statements, takenAt time.Time) (young, known int) {
	var oldest, newest time.Time
	for _, r := range st.Rows {
		if r.StatsSince == nil {
			continue
		}
		known++
		if oldest.IsZero() || r.StatsSince.Before(oldest) {
			oldest = *r.StatsSince
		}
		if r.StatsSince.After(newest) {
			newest = *r.StatsSince
		}
	}
	if known == 0 {
		return 0, 0
	}
	start := oldest
	if st.StatsReset != nil && st.StatsReset.Before(start) {
		start = *st.StatsReset
	}
	end := takenAt
	if end.IsZero() || end.Before(newest) {
		end = newest
	}
	window := end.Sub(start)
	if window <= 0 {
		return 0, known
	}
	cut := end.Add(-window / 10)
	for _, r := range st.Rows {
		if r.StatsSince != nil && r.StatsSince.After(cut) {
			young++
		}
	}
	return young, known
}

func statements(snap *dbstate.Snapshot, w *workload.Workload) []finding.Finding {
	st := &snap.Statements
	var out []finding.Finding
	restart := "restart PostgreSQL (pg_stat_statements.max only changes at server start)"
	newMax := max(2*st.Max, 10000)
	if st.Dealloc > 0 {
		since := "since the server started"
		if st.StatsReset != nil {
			since = "since " + st.StatsReset.Format("2006-01-02 15:04 UTC")
		}
		detail := "When pg_stat_statements is full it evicts its least-used entries, so rare but expensive statements " +
			"can vanish from the picture pgtune (and everyone else) works from, and their counters restart."
		ev := finding.Facts("dealloc", st.Dealloc, "pg_stat_statements.max", st.Max, "entries", len(st.Rows)+int(st.Hidden+st.Own))
		// pg_stat_statements 1.11 (17+) dates each entry: entries much younger than the statistics
		// themselves were evicted and made again, so their counters cover only part of the window.
		if young, known := youngEntries(st, snap.TakenAt); known > 0 && young > 0 {
			share := float64(young) / float64(known)
			ev = append(ev, finding.Fact{Name: "entries_younger_than_a_tenth_of_the_window", Value: young}, finding.Fact{Name: "entries_dated", Value: known})
			detail += fmt.Sprintf(" %d of the %d entries (%.0f %%) were created in the last tenth of the statistics' window (stats_since): "+
				"their counts cover only the time since, so their share of the workload reads low.", young, known, share*100)
		}
		out = append(out, finding.Finding{
			Rule: "statistics.pg_stat_statements.evictions", Kind: finding.KindStatistics, Severity: finding.SeverityMedium,
			Title:    fmt.Sprintf("pg_stat_statements evicted entries %d times %s", st.Dealloc, since),
			Detail:   detail,
			Evidence: ev,
			SQL:      fmt.Sprintf("ALTER SYSTEM SET pg_stat_statements.max = %d;", newMax), Action: restart,
		})
	}
	entries := len(st.Rows) + int(st.Hidden+st.Own)
	if st.Max > 0 && float64(entries) >= CapacityShare*float64(st.Max) {
		out = append(out, finding.Finding{
			Rule: "statistics.pg_stat_statements.capacity", Kind: finding.KindStatistics, Severity: finding.SeverityLow,
			Title: fmt.Sprintf("pg_stat_statements holds %d entries of its %d", entries, st.Max),
			Detail: "At capacity it starts evicting entries (see pg_stat_statements_info.dealloc). Each entry costs " +
				"about 1 kB of shared memory, so a larger maximum is cheap.",
			Evidence: finding.Facts("entries", entries, "pg_stat_statements.max", st.Max),
			SQL:      fmt.Sprintf("ALTER SYSTEM SET pg_stat_statements.max = %d;", newMax), Action: restart,
		})
	}
	if st.Hidden > 0 {
		total := w.TotalExecMs + st.HiddenMs
		share := 0.0
		if total > 0 {
			share = st.HiddenMs / total
		}
		sev := finding.SeverityMedium
		if share >= 0.10 {
			sev = finding.SeverityHigh
		}
		out = append(out, finding.Finding{
			Rule: "statistics.pg_stat_statements.hidden", Kind: finding.KindStatistics, Severity: sev,
			Title: fmt.Sprintf("%d statements of other roles are hidden from %s (%.0f%% of execution time)", st.Hidden, snap.Server.User, 100*share),
			Detail: "Without pg_read_all_stats, pg_stat_statements shows other roles' statements as <insufficient " +
				"privilege> with no queryid, so pgtune cannot model them and its advice ignores that part of the workload.",
			Evidence: finding.Facts("hidden_rows", st.Hidden, "hidden_calls", st.HiddenCalls, "hidden_total_exec_ms", finding.Round(st.HiddenMs, 4), "time_share", finding.Round(share, 4)),
			SQL:      fmt.Sprintf("GRANT pg_read_all_stats TO %s;", quote.Ident(snap.Server.User)),
			Action:   "or GRANT pg_monitor, which includes it",
			Impact:   share,
		})
	}
	for _, pc := range w.Unmodelled {
		if pc.Problem == workload.TextHidden {
			continue // counted above
		}
		out = append(out, finding.Finding{
			Rule: "statistics.unmodelled_statements", Kind: finding.KindStatistics, Severity: finding.SeverityInfo,
			Title: fmt.Sprintf("%d statements could not be analysed: %s", pc.Statements, pc.Problem),
			Detail: unmodelledDetail(pc.Problem) + " They are counted in the workload totals but produce no " +
				"findings; the statements list in JSON output names them.",
			Evidence: finding.Facts("statements", pc.Statements, "calls", pc.Calls, "time_share", finding.Round(pc.TimeShare, 4)),
			Impact:   pc.TimeShare,
		})
	}
	return out
}

func unmodelledDetail(p workload.TextProblem) string {
	switch p {
	case workload.TextUnavailable:
		return "pg_stat_statements returned no text for them (its query-text file was being rewritten or could not be read)."
	case workload.TextTruncated:
		return "Their texts were cut short at a length limit (track_activity_query_size, or the export tool's), so they no longer parse."
	case workload.TextUnparsable:
		return "PostgreSQL's parser (version 17) rejects their texts."
	case workload.TextNotOneStatement:
		return "Their texts hold several statements."
	}
	return ""
}
