package collect

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
)

// indexesQuery reads every index of the tables collectTables reads, with what is needed to tell
// two indexes apart: method, key columns or expressions with their operator class (when not the
// default), collation (when not the column's; an expression key's collation is not compared, as
// its natural collation is not in the catalog), sort order, INCLUDE columns and predicate. The
// per-key arrays are built in SQL so one row describes one index. %s is the last-scan column
// (PG 16+) or NULL.
const indexesQuery = connect.Marker + `SELECT n.nspname, t.relname, i.relname, am.amname,
       x.indisunique, x.indisprimary, x.indisvalid, i.relkind = 'I', i.relispartition,
       coalesce(con.conname, ''),
       pg_catalog.pg_get_indexdef(x.indexrelid),
       coalesce(pg_catalog.pg_get_expr(x.indpred, x.indrelid, true), ''),
       CASE WHEN i.relkind = 'I' THEN 0 ELSE pg_catalog.pg_relation_size(i.oid) END,
       coalesce(s.idx_scan, -1), coalesce(s.idx_tup_read, 0), coalesce(s.idx_tup_fetch, 0), %s,
       ARRAY(SELECT coalesce(a.attname, '') FROM pg_catalog.generate_series(1, x.indnatts) k
             LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[k - 1] AND x.indkey[k - 1] <> 0
             ORDER BY k),
       ARRAY(SELECT pg_catalog.pg_get_indexdef(x.indexrelid, k, true) FROM pg_catalog.generate_series(1, x.indnatts) k ORDER BY k),
       x.indnkeyatts,
       ARRAY(SELECT x.indoption[k - 1]::int FROM pg_catalog.generate_series(1, x.indnkeyatts) k ORDER BY k),
       ARRAY(SELECT CASE WHEN oc.opcdefault THEN '' ELSE pg_catalog.quote_ident(oc.opcname) END
             FROM pg_catalog.generate_series(1, x.indnkeyatts) k
             JOIN pg_catalog.pg_opclass oc ON oc.oid = x.indclass[k - 1] ORDER BY k),
       ARRAY(SELECT CASE WHEN x.indcollation[k - 1] = 0 OR x.indcollation[k - 1] = coalesce(a.attcollation, 0)
                         OR x.indkey[k - 1] = 0 THEN ''
                         ELSE coalesce((SELECT pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co WHERE co.oid = x.indcollation[k - 1]), '') END
             FROM pg_catalog.generate_series(1, x.indnkeyatts) k
             LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[k - 1] AND x.indkey[k - 1] <> 0
             ORDER BY k),
       ARRAY(SELECT f.conname::text FROM pg_catalog.pg_constraint f WHERE f.conindid = x.indexrelid AND f.contype = 'f' ORDER BY 1)
FROM pg_catalog.pg_index x
JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
JOIN pg_catalog.pg_am am ON am.oid = i.relam
LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = x.indexrelid AND con.contype IN ('p', 'u', 'x')
LEFT JOIN pg_catalog.pg_stat_all_indexes s ON s.indexrelid = x.indexrelid
WHERE t.relkind IN ('r', 'p', 'm') AND ` + userSchemas + ` AND ` + notExtensionMember + `
ORDER BY n.nspname, t.relname, i.relname`

func collectIndexes(ctx context.Context, tx querier, snap *dbstate.Snapshot, _ Options) error {
	lastScan := "NULL::timestamptz"
	if snap.Server.VersionNum >= 160000 {
		lastScan = "s.last_idx_scan"
	}
	rows, err := tx.Query(ctx, sprintf(indexesQuery, lastScan))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var ix dbstate.Index
		var attnames, defs, opclasses, collations []string
		var options []int32
		var nkey int
		if err := rows.Scan(&ix.Schema, &ix.Table, &ix.Name, &ix.Method, &ix.Unique, &ix.Primary, &ix.Valid,
			&ix.Partitioned, &ix.Attached, &ix.Constraint, &ix.Definition, &ix.Predicate, &ix.SizeBytes,
			&ix.Scans, &ix.TupRead, &ix.TupFetch, &ix.LastScan,
			&attnames, &defs, &nkey, &options, &opclasses, &collations, &ix.ReferencedBy); err != nil {
			return err
		}
		utc(ix.LastScan)
		for k := range attnames {
			if k >= nkey {
				ix.Include = append(ix.Include, attnames[k])
				continue
			}
			key := dbstate.IndexKey{Column: attnames[k]}
			if key.Column == "" && k < len(defs) {
				key.Expr = defs[k]
			}
			if k < len(options) {
				// indoption bit 0: DESC; bit 1: NULLS FIRST.
				key.Desc, key.NullsFirst = options[k]&1 != 0, options[k]&2 != 0
			}
			if k < len(opclasses) {
				key.Opclass = opclasses[k]
			}
			if k < len(collations) {
				key.Collation = collations[k]
			}
			ix.Keys = append(ix.Keys, key)
		}
		snap.Indexes = append(snap.Indexes, ix)
	}
	return rows.Err()
}

// indexBuildsQuery lists indexes being built now, so an INVALID index that is only unfinished is
// not reported as a leftover.
const indexBuildsQuery = connect.Marker + `SELECT n.nspname || '.' || i.relname
FROM pg_catalog.pg_stat_progress_create_index p
JOIN pg_catalog.pg_class i ON i.oid = p.index_relid
JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
WHERE p.datid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())`

func collectIndexBuilds(ctx context.Context, tx querier, snap *dbstate.Snapshot, _ Options) error {
	rows, err := tx.Query(ctx, indexBuildsQuery)
	if err != nil {
		return err
	}
	snap.IndexBuilds, err = pgx.CollectRows(rows, pgx.RowTo[string])
	return err
}
