package collect

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
)

const extensionsQuery = connect.Marker + `SELECT e.extname, e.extversion, n.nspname, coalesce(a.default_version, '')
FROM pg_catalog.pg_extension e
JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
LEFT JOIN pg_catalog.pg_available_extensions a ON a.name = e.extname
ORDER BY e.extname`

const availableExtensionsQuery = connect.Marker + `SELECT name FROM pg_catalog.pg_available_extensions
WHERE installed_version IS NULL ORDER BY name`

func collectExtensions(ctx context.Context, tx querier, snap *dbstate.Snapshot, _ Options) error {
	rows, err := tx.Query(ctx, extensionsQuery)
	if err != nil {
		return err
	}
	snap.Extensions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (dbstate.Extension, error) {
		var e dbstate.Extension
		err := r.Scan(&e.Name, &e.Version, &e.Schema, &e.Default)
		return e, err
	})
	if err != nil {
		return err
	}
	rows, err = tx.Query(ctx, availableExtensionsQuery)
	if err != nil {
		return err
	}
	snap.AvailableExtensions, err = pgx.CollectRows(rows, pgx.RowTo[string])
	return err
}
