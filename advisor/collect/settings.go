package collect

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/advisor/model"
	"github.com/bookedbarber/pgtune/internal/connect"
)

// settingsQuery reads every setting; a role without pg_read_all_settings sees a few (such as
// data_directory) as NULL-free but restricted rows, which is all the advisor needs.
const settingsQuery = connect.Marker + `SELECT name, coalesce(setting, ''), coalesce(unit, ''), coalesce(source, ''), coalesce(context, '')
FROM pg_catalog.pg_settings ORDER BY name`

func collectSettings(ctx context.Context, tx querier, snap *model.Snapshot, _ Options) error {
	rows, err := tx.Query(ctx, settingsQuery)
	if err != nil {
		return err
	}
	snap.Settings, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.Setting, error) {
		var s model.Setting
		err := r.Scan(&s.Name, &s.Setting, &s.Unit, &s.Source, &s.Context)
		return s, err
	})
	return err
}
