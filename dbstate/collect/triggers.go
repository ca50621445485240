package collect

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
)

// triggersQuery reads user triggers; the internal ones that enforce foreign keys are left out.
const triggersQuery = connect.Marker + `SELECT n.nspname, c.relname, tg.tgname, tg.tgenabled <> 'D',
       pg_catalog.pg_get_triggerdef(tg.oid, true)
FROM pg_catalog.pg_trigger tg
JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE NOT tg.tgisinternal AND ` + userSchemas + ` AND ` + notExtensionMember + `
ORDER BY n.nspname, c.relname, tg.tgname`

func collectTriggers(ctx context.Context, tx querier, snap *dbstate.Snapshot, _ Options) error {
	rows, err := tx.Query(ctx, triggersQuery)
	if err != nil {
		return err
	}
	snap.Triggers, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (dbstate.Trigger, error) {
		var t dbstate.Trigger
		err := r.Scan(&t.Schema, &t.Table, &t.Name, &t.Enabled, &t.Definition)
		return t, err
	})
	return err
}
