package collect

import (
	"context"
	"fmt"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
)

// tablesQuery reads tables, partitioned tables and materialised views. Sizes come from
// pg_relation_size, which takes (and at once releases) an ACCESS SHARE lock: the transaction's
// lock_timeout keeps it from queueing behind DDL.
const tablesQueryFormat = connect.Marker + `SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relpersistence::text,
       c.reltuples::float8, c.relpages::int8, coalesce(c.reloptions, '{}'),
       %[1]s,
       coalesce((SELECT pn.nspname || '.' || p.relname FROM pg_catalog.pg_inherits ih
                 JOIN pg_catalog.pg_class p ON p.oid = ih.inhparent
                 JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
                 WHERE ih.inhrelid = c.oid AND c.relispartition LIMIT 1), ''),
       coalesce((SELECT ri.relname FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class ri ON ri.oid = x.indexrelid
                 WHERE x.indrelid = c.oid AND x.indisreplident LIMIT 1), ''),
       CASE WHEN c.relkind = 'p' THEN 0 ELSE greatest(pg_catalog.age(c.relfrozenxid),
            coalesce((SELECT pg_catalog.age(t.relfrozenxid) FROM pg_catalog.pg_class t WHERE t.oid = c.reltoastrelid), 0))::int8 END,
       CASE WHEN c.relkind = 'p' THEN 0 ELSE greatest(pg_catalog.mxid_age(c.relminmxid),
            coalesce((SELECT pg_catalog.mxid_age(t.relminmxid) FROM pg_catalog.pg_class t WHERE t.oid = c.reltoastrelid), 0))::int8 END,
       c.relkind = 'p' AND EXISTS (SELECT 1 FROM pg_catalog.pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = c.relname AND s.inherited),
       (SELECT count(*) FROM pg_catalog.pg_index x WHERE x.indrelid = c.oid)::int,
       NOT pg_catalog.has_table_privilege(c.oid, 'SELECT'),
       pg_catalog.pg_get_userbyid(c.relowner),
       NOT (%[2]s OR (NOT c.relisshared AND pg_catalog.pg_has_role(
             (SELECT d.datdba FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()), 'USAGE')))
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND ` + userSchemas + ` AND ` + notExtensionMember + `
ORDER BY n.nspname, c.relname`

// Table sizes: exact from pg_relation_size, which takes (and at once releases) an ACCESS SHARE
// lock on each table; or, for a light collection that must not stop at a locked table (the
// maintenance planner meets them by design), relpages × the block size, which takes none.
const (
	exactSizes = `CASE WHEN c.relkind = 'p' THEN 0 ELSE pg_catalog.pg_relation_size(c.oid) END,
       CASE WHEN c.relkind = 'p' THEN 0 ELSE pg_catalog.pg_total_relation_size(c.oid) END`
	lockFreeSizes = `c.relpages::int8 * pg_catalog.current_setting('block_size')::int8,
       (c.relpages::int8 + coalesce((SELECT sum(i.relpages) FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = c.oid), 0)::int8
        + coalesce((SELECT t.relpages FROM pg_catalog.pg_class t WHERE t.oid = c.reltoastrelid), 0)::int8) * pg_catalog.current_setting('block_size')::int8`
)

// May the role VACUUM and ANALYZE the table (besides owning the database)? Before 17, only as
// its owner (membership counts; a superuser is a member of every role); from 17 the MAINTAIN
// privilege says it (owner, pg_maintain, or GRANT MAINTAIN).
const (
	maintainByOwner     = `pg_catalog.pg_has_role(c.relowner, 'USAGE')`
	maintainByPrivilege = `pg_catalog.has_table_privilege(c.oid, 'MAINTAIN')`
)

const columnsQuery = connect.Marker + `SELECT a.attrelid, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
       coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid, true), ''), a.attidentity::text, a.attgenerated::text
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'p', 'm') AND a.attnum > 0 AND NOT a.attisdropped AND ` + userSchemas + `
ORDER BY a.attrelid, a.attnum`

func collectTables(ctx context.Context, tx querier, snap *dbstate.Snapshot, o Options) error {
	sizes, maintain := exactSizes, maintainByOwner
	if o.Light {
		sizes = lockFreeSizes
	}
	if snap.Server.VersionNum >= 170000 {
		maintain = maintainByPrivilege
	}
	q := fmt.Sprintf(tablesQueryFormat, sizes, maintain)
	rows, err := tx.Query(ctx, q)
	if err != nil {
		return err
	}
	byOID := map[uint32]int{}
	for rows.Next() {
		var oid uint32
		var t dbstate.Table
		var kind, persistence string
		if err := rows.Scan(&oid, &t.Schema, &t.Name, &kind, &persistence, &t.RowEstimate, &t.Pages,
			&t.Reloptions, &t.SizeBytes, &t.TotalBytes, &t.Parent, &t.ReplicaIdentityIndex,
			&t.XIDAge, &t.MXIDAge, &t.InheritedStats, &t.IndexCount, &t.Unreadable, &t.Owner, &t.NoMaintain); err != nil {
			rows.Close()
			return err
		}
		t.Kind = map[string]string{"r": "table", "p": "partitioned", "m": "matview"}[kind]
		t.Persistence = map[string]string{"u": "unlogged", "t": "temporary"}[persistence]
		if len(t.Reloptions) == 0 {
			t.Reloptions = nil
		}
		byOID[oid] = len(snap.Tables)
		snap.Tables = append(snap.Tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	rows, err = tx.Query(ctx, columnsQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var oid uint32
		var c dbstate.Column
		var identity, generated string
		if err := rows.Scan(&oid, &c.Name, &c.Type, &c.NotNull, &c.Default, &identity, &generated); err != nil {
			return err
		}
		switch {
		case identity != "":
			c.Generated = "identity"
		case generated == "s":
			c.Generated = "stored"
		case generated == "v":
			c.Generated = "virtual"
		}
		if i, ok := byOID[oid]; ok {
			snap.Tables[i].Columns = append(snap.Tables[i].Columns, c)
		}
	}
	return rows.Err()
}

func utc(t *time.Time) {
	if t != nil {
		*t = t.UTC()
	}
}
