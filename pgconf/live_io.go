package pgconf

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
)

// The evidence the newer versions give: pg_stat_io (16+) says who writes the shared buffers out,
// and pg_stat_statements 1.12 (18) says which statements got fewer parallel workers than their
// plans asked for, and which waited on full WAL buffers.

// assessBackendWrites (16+): when client backends write dirty shared buffers out themselves to
// free one, instead of the background writer having done it ahead of them, every such write is
// latency the query pays. The background writer is too lax for the load, or shared_buffers too
// small for the working set.
func assessBackendWrites(a *dbstate.ServerActivity, l liveSettings) *Signal {
	if len(a.IO) == 0 {
		return nil
	}
	var backend, bgwriter, checkpointer, reads, hits int64
	for _, r := range a.IO {
		if r.Object != "relation" || r.Context != "normal" {
			continue // rings (bulk reads, vacuum) write their own buffers by design
		}
		switch r.BackendType {
		case "client backend":
			backend += r.Writes
			reads += r.Reads
			hits += r.Hits
		case "background writer":
			bgwriter += r.Writes
		case "checkpointer":
			checkpointer += r.Writes
		}
	}
	total := backend + bgwriter + checkpointer
	if backend < 1000 || total == 0 {
		return nil
	}
	share := float64(backend) / float64(total)
	if share < 0.1 {
		return nil
	}
	maxPages, _ := l.number("bgwriter_lru_maxpages")
	mult, _ := l.number("bgwriter_lru_multiplier")
	suggestPages := max(400, int64(maxPages)*2)
	suggestMult := math.Max(4, mult)
	ev := finding.Facts("client_backend_writes", backend, "background_writer_writes", bgwriter, "checkpointer_writes", checkpointer,
		"client_backend_share", math.Round(share*1000)/1000, "client_backend_reads", reads, "client_backend_hits", hits,
		"bgwriter_lru_maxpages", l.text("bgwriter_lru_maxpages"), "bgwriter_lru_multiplier", l.text("bgwriter_lru_multiplier"),
		"shared_buffers", l.text("shared_buffers"), "counters_since", since(a.IOSince))
	sev := finding.SeverityLow
	if share >= 0.5 {
		sev = finding.SeverityMedium
	}
	detail := fmt.Sprintf("pg_stat_io: client backends wrote %d of the %d shared buffers written in normal use (%.0f %%); the background writer wrote %d and the checkpointer %d. "+
		"A backend that must write a dirty buffer before it can reuse it makes its query wait on that write.", backend, total, share*100, bgwriter, checkpointer)
	if hits+reads > 0 && float64(hits)/float64(hits+reads) < 0.99 {
		detail += fmt.Sprintf(" Their hit ratio is %.1f %%: the working set does not fit in shared_buffers (%s) either.", 100*float64(hits)/float64(hits+reads), l.text("shared_buffers"))
	}
	return &Signal{Rule: "settings.backend_writes", Setting: "bgwriter_lru_maxpages", Current: l.text("bgwriter_lru_maxpages"), Suggest: fmt.Sprint(suggestPages),
		Severity: sev, Kind: finding.KindSettings,
		Title:  fmt.Sprintf("Client backends write %.0f %% of the shared buffers themselves: make the background writer work ahead", share*100),
		Detail: detail, Evidence: ev,
		SQL: fmt.Sprintf("ALTER SYSTEM SET bgwriter_lru_maxpages = %d;\nALTER SYSTEM SET bgwriter_lru_multiplier = %s;\nSELECT pg_reload_conf();",
			suggestPages, strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", suggestMult), "0"), ".")),
		Action: "if the share stays high after a day, raise shared_buffers (pgtune config sizes it)"}
}

// statementTotals sums pg_stat_statements 1.12's counters over the rows (-1 means unknown).
func statementTotals(rows []dbstate.StatementRow) (toLaunch, launched, walFull int64, known bool) {
	for _, r := range rows {
		if r.ParallelWorkersToLaunch < 0 {
			continue
		}
		known = true
		toLaunch += r.ParallelWorkersToLaunch
		launched += r.ParallelWorkersLaunched
		walFull += r.WalBuffersFull
	}
	return toLaunch, launched, walFull, known
}

// topStatements are the statements with the largest share of f, for evidence.
func topStatements(rows []dbstate.StatementRow, f func(dbstate.StatementRow) int64, n int) []finding.StatementEvidence {
	var picked []dbstate.StatementRow
	for _, r := range rows {
		if f(r) > 0 {
			picked = append(picked, r)
		}
	}
	slices.SortFunc(picked, func(a, b dbstate.StatementRow) int { return cmp.Compare(f(b), f(a)) })
	var out []finding.StatementEvidence
	for _, r := range picked[:min(n, len(picked))] {
		out = append(out, finding.StatementEvidence{QueryIDs: []dbstate.QueryID{r.QueryID}, Query: r.Query, Calls: r.Calls,
			TotalExecMs: r.TotalExecMs, MeanExecMs: r.MeanExecMs, Rows: r.Rows})
	}
	return out
}

// assessParallelShort (pg_stat_statements 1.12): plans asked for parallel workers the server
// could not start, because max_parallel_workers or max_worker_processes were used up; such a
// query runs with fewer workers than it was planned for, and slower than its plan says.
func assessParallelShort(snap *dbstate.Snapshot, l liveSettings) *Signal {
	toLaunch, launched, _, known := statementTotals(snap.Statements.Rows)
	missing := toLaunch - launched
	if !known || missing < 100 || float64(missing) < 0.1*float64(toLaunch) {
		return nil
	}
	share := float64(missing) / float64(toLaunch)
	maxPar, _ := l.number("max_parallel_workers")
	maxProc, _ := l.number("max_worker_processes")
	ev := finding.Facts("parallel_workers_to_launch", toLaunch, "parallel_workers_launched", launched, "not_launched_share", math.Round(share*1000)/1000,
		"max_parallel_workers", l.text("max_parallel_workers"), "max_worker_processes", l.text("max_worker_processes"),
		"max_parallel_workers_per_gather", l.text("max_parallel_workers_per_gather"))
	stmts := topStatements(snap.Statements.Rows, func(r dbstate.StatementRow) int64 { return r.ParallelWorkersToLaunch - r.ParallelWorkersLaunched }, 5)
	sev := finding.SeverityLow
	if share >= 0.5 {
		sev = finding.SeverityMedium
	}
	suggest := int64(max(maxPar*2, 8))
	return &Signal{Rule: "settings.parallel_workers_short", Setting: "max_parallel_workers", Current: l.text("max_parallel_workers"), Suggest: fmt.Sprint(suggest),
		Severity: sev, Kind: finding.KindSettings,
		Title: fmt.Sprintf("%.0f %% of the parallel workers plans asked for were never started", share*100),
		Detail: fmt.Sprintf("pg_stat_statements: plans asked for %d parallel workers and got %d. A query planned for parallel workers runs with fewer when max_parallel_workers (%s) or max_worker_processes (%s) are used up, and takes longer than its plan assumed.",
			toLaunch, launched, l.text("max_parallel_workers"), l.text("max_worker_processes")),
		Evidence: ev, Statements: stmts,
		SQL: fmt.Sprintf("ALTER SYSTEM SET max_parallel_workers = %d;\nALTER SYSTEM SET max_worker_processes = %d;  -- needs a restart\n-- or, where the CPUs are already busy: lower max_parallel_workers_per_gather so plans ask for what the server can give",
			suggest, int64(max(maxProc, float64(suggest)+4))),
		Action: "raise them only with spare CPUs; pgtune config sizes both from the instance"}
}

// assessWALBuffersFull (pg_stat_statements 1.12): a statement that finds the WAL buffers full
// writes WAL out itself, synchronously.
func assessWALBuffersFull(snap *dbstate.Snapshot, l liveSettings) *Signal {
	_, _, full, known := statementTotals(snap.Statements.Rows)
	if !known || full < 100 {
		return nil
	}
	cur, _ := l.number("wal_buffers")
	suggest := int64(64 * MB)
	if cur >= float64(suggest) {
		suggest = int64(cur) * 2
	}
	ev := finding.Facts("wal_buffers_full", full, "wal_buffers", l.text("wal_buffers"))
	stmts := topStatements(snap.Statements.Rows, func(r dbstate.StatementRow) int64 { return r.WalBuffersFull }, 5)
	sev := finding.SeverityLow
	if full >= 10000 {
		sev = finding.SeverityMedium
	}
	v := FormatBytes(suggest)
	return &Signal{Rule: "settings.wal_buffers_full", Setting: "wal_buffers", Current: l.text("wal_buffers"), Suggest: v,
		Severity: sev, Kind: finding.KindSettings,
		Title:    fmt.Sprintf("Statements found the WAL buffers full %d times: raise wal_buffers to %s", full, v),
		Detail:   fmt.Sprintf("pg_stat_statements: %d times a statement had to write WAL out itself because the WAL buffers (%s) were full, waiting on that write.", full, l.text("wal_buffers")),
		Evidence: ev, Statements: stmts,
		SQL:    fmt.Sprintf("ALTER SYSTEM SET wal_buffers = '%s';  -- needs a restart", v),
		Action: "restart PostgreSQL for it to take effect"}
}
