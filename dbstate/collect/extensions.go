package collect

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
)

const extensionsQuery = connect.Marker + `SELECT e.extname, e.extversion, n.nspname
FROM pg_catalog.pg_extension e
JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
ORDER BY e.extname`

// availableExtensionsQuery is read once: pg_available_extensions reads every control file in the
// server's extension directory (20 ms a call in a container's overlay file system).
const availableExtensionsQuery = connect.Marker + `SELECT name, coalesce(default_version, ''), installed_version IS NOT NULL
FROM pg_catalog.pg_available_extensions ORDER BY name`

func collectExtensions(ctx context.Context, tx querier, snap *dbstate.Snapshot, _ Options) error {
	rows, err := tx.Query(ctx, extensionsQuery)
	if err != nil {
		return err
	}
	snap.Extensions, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (dbstate.Extension, error) {
		var e dbstate.Extension
		err := r.Scan(&e.Name, &e.Version, &e.Schema)
		return e, err
	})
	if err != nil {
		return err
	}
	rows, err = tx.Query(ctx, availableExtensionsQuery)
	if err != nil {
		return err
	}
	defaults := map[string]string{}
	snap.AvailableExtensions = nil
	for rows.Next() {
		var name, def string
		var installed bool
		if err := rows.Scan(&name, &def, &installed); err != nil {
			rows.Close()
			return err
		}
		defaults[name] = def
		if !installed {
			snap.AvailableExtensions = append(snap.AvailableExtensions, name)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range snap.Extensions {
		snap.Extensions[i].Default = defaults[snap.Extensions[i].Name]
	}
	return nil
}
