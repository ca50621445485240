package collect

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
)

// settingsQuery reads every setting; a role without pg_read_all_settings sees a few (such as
// data_directory) as NULL-free but restricted rows, which is all the advisor needs.
//
// pgtune's own session changes a few settings for itself: pg_stat_statements.track = none when
// it may (connect.Untrack), and the collection's statement_timeout, lock_timeout and jit (SET
// LOCAL, see Collect). For those the server's value is the session's reset_val, not its current
// one, and where the value came from is no longer known (source left empty).
const settingsQuery = connect.Marker + `SELECT name,
       coalesce(CASE WHEN name IN (` + ownSettings + `) THEN reset_val ELSE setting END, ''),
       coalesce(unit, ''),
       coalesce(CASE WHEN name IN (` + ownSettings + `) AND source = 'session' THEN NULL ELSE source END, ''),
       coalesce(context, '')
FROM pg_catalog.pg_settings ORDER BY name`

// ownSettings are the settings pgtune's collecting session sets for itself.
const ownSettings = `'pg_stat_statements.track', 'statement_timeout', 'lock_timeout', 'jit'`

func collectSettings(ctx context.Context, tx querier, snap *dbstate.Snapshot, _ Options) error {
	rows, err := tx.Query(ctx, settingsQuery)
	if err != nil {
		return err
	}
	snap.Settings, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (dbstate.Setting, error) {
		var s dbstate.Setting
		err := r.Scan(&s.Name, &s.Setting, &s.Unit, &s.Source, &s.Context)
		return s, err
	})
	return err
}
