package collect

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
)

const constraintsQuery = connect.Marker + `SELECT n.nspname, c.relname, con.conname, con.contype::text,
       ARRAY(SELECT a.attname FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord),
       coalesce((SELECT rn.nspname || '.' || r.relname FROM pg_catalog.pg_class r
                 JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace WHERE r.oid = con.confrelid), ''),
       ARRAY(SELECT a.attname FROM pg_catalog.unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord),
       pg_catalog.pg_get_constraintdef(con.oid, true), con.convalidated,
       coalesce((SELECT i.relname FROM pg_catalog.pg_class i WHERE i.oid = con.conindid AND con.contype IN ('p', 'u', 'x')), '')
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE con.contype IN ('p', 'u', 'f', 'c', 'x') AND ` + userSchemas + ` AND ` + notExtensionMember + `
ORDER BY n.nspname, c.relname, con.conname`

var constraintTypes = map[string]string{"p": "primary_key", "u": "unique", "f": "foreign_key", "c": "check", "x": "exclusion"}

func collectConstraints(ctx context.Context, tx querier, snap *dbstate.Snapshot, _ Options) error {
	rows, err := tx.Query(ctx, constraintsQuery)
	if err != nil {
		return err
	}
	snap.Constraints, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (dbstate.Constraint, error) {
		var c dbstate.Constraint
		var typ string
		err := r.Scan(&c.Schema, &c.Table, &c.Name, &typ, &c.Columns, &c.References, &c.RefColumns,
			&c.Definition, &c.Validated, &c.Index)
		c.Type = constraintTypes[typ]
		if len(c.RefColumns) == 0 {
			c.RefColumns = nil
		}
		return c, err
	})
	return err
}
