package collect

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
)

// columnStatsQuery reads pg_stats. The value arrays are anyarray; going through text turns them
// into text[] whatever the column's type. %s is the value list (or NULLs with Options.NoValues).
// pg_stats shows only columns the user may SELECT, so a pure monitoring role sees none: the
// count query tells that apart from a database never analysed.
const columnStatsQuery = connect.Marker + `SELECT s.schemaname, s.tablename, s.attname, s.inherited,
       s.null_frac::float8, s.avg_width, s.n_distinct::float8, %s, s.correlation::float8
FROM pg_catalog.pg_stats s
JOIN pg_catalog.pg_namespace n ON n.nspname = s.schemaname
JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename
WHERE ` + userSchemas + ` AND ` + notExtensionMember + `
ORDER BY s.schemaname, s.tablename, s.attname, s.inherited`

const columnStatsValues = `s.most_common_vals::text::text[], s.most_common_freqs::float8[], s.histogram_bounds::text::text[]`

const columnStatsNoValues = `NULL::text[], s.most_common_freqs::float8[], NULL::text[]`

// hiddenStatsQuery counts analysed columns of user tables that pg_stats hides from this user.
const hiddenStatsQuery = connect.Marker + `SELECT count(DISTINCT c.oid) FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND ` + userSchemas + ` AND ` + notExtensionMember + `
  AND NOT pg_catalog.has_table_privilege(c.oid, 'SELECT')`

func collectColumnStats(ctx context.Context, tx querier, snap *dbstate.Snapshot, o Options) error {
	values := columnStatsValues
	if o.NoValues {
		values = columnStatsNoValues
	}
	rows, err := tx.Query(ctx, fmt.Sprintf(columnStatsQuery, values))
	if err != nil {
		return err
	}
	snap.ColumnStats, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (dbstate.ColumnStat, error) {
		var s dbstate.ColumnStat
		err := r.Scan(&s.Schema, &s.Table, &s.Column, &s.Inherited, &s.NullFrac, &s.AvgWidth, &s.NDistinct,
			&s.MostCommonVals, &s.MostCommonFreqs, &s.HistogramBounds, &s.Correlation)
		return s, err
	})
	if err != nil {
		return err
	}
	var hidden int
	if err := tx.QueryRow(ctx, hiddenStatsQuery).Scan(&hidden); err != nil {
		return err
	}
	if hidden > 0 {
		snap.AddGap("column_stats", fmt.Sprintf("pg_stats hides the columns of %d tables this user may not SELECT from "+
			"(a pg_monitor role sees none); findings that need column statistics are missing for them: "+
			"GRANT SELECT on those tables, or GRANT pg_read_all_data TO %s (PostgreSQL 14+)", hidden, snap.Server.User))
	}
	return nil
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
