package collect

import (
	"context"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
)

// tableStatsQuery reads pg_stat_all_tables for the tables collectTables found (partitioned
// parents have no row: they hold no tuples).
const tableStatsQuery = connect.Marker + `SELECT s.schemaname, s.relname,
       coalesce(s.seq_scan, 0), coalesce(s.seq_tup_read, 0), coalesce(s.idx_scan, 0), coalesce(s.idx_tup_fetch, 0),
       s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd, s.n_live_tup, s.n_dead_tup,
       s.n_mod_since_analyze, s.n_ins_since_vacuum,
       s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
       s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count
FROM pg_catalog.pg_stat_all_tables s
JOIN pg_catalog.pg_namespace n ON n.nspname = s.schemaname
WHERE ` + userSchemas

func collectTableStats(ctx context.Context, tx querier, snap *dbstate.Snapshot, _ Options) error {
	idx := map[string]int{}
	for i := range snap.Tables {
		idx[snap.Tables[i].Key()] = i
	}
	rows, err := tx.Query(ctx, tableStatsQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var schema, name string
		s := &dbstate.TableStats{}
		if err := rows.Scan(&schema, &name, &s.SeqScan, &s.SeqTupRead, &s.IdxScan, &s.IdxTupFetch,
			&s.Inserts, &s.Updates, &s.Deletes, &s.HotUpdates, &s.LiveTuples, &s.DeadTuples,
			&s.ModSinceAnalyze, &s.InsSinceVacuum, &s.LastVacuum, &s.LastAutovacuum, &s.LastAnalyze, &s.LastAutoanalyze,
			&s.VacuumCount, &s.AutovacuumCount, &s.AnalyzeCount, &s.AutoanalyzeCount); err != nil {
			return err
		}
		for _, t := range []*time.Time{s.LastVacuum, s.LastAutovacuum, s.LastAnalyze, s.LastAutoanalyze} {
			utc(t)
		}
		if i, ok := idx[dbstate.QualifiedName(schema, name)]; ok {
			snap.Tables[i].Stats = s
		}
	}
	return rows.Err()
}
