package collect

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
)

// viewsQuery reads the user views and their definitions (materialized views are tables to the
// planner, and are read with them).
const viewsQuery = connect.Marker + `SELECT n.nspname, c.relname, pg_catalog.pg_get_viewdef(c.oid, true)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v' AND ` + userSchemas + ` AND ` + notExtensionMember + `
ORDER BY n.nspname, c.relname`

func collectViews(ctx context.Context, tx querier, snap *dbstate.Snapshot, _ Options) error {
	rows, err := tx.Query(ctx, viewsQuery)
	if err != nil {
		return err
	}
	snap.Views, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (dbstate.View, error) {
		var v dbstate.View
		err := r.Scan(&v.Schema, &v.Name, &v.Definition)
		return v, err
	})
	return err
}
