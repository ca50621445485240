package collect

import (
	"context"
	"fmt"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
)

const serverQuery = connect.Marker + `SELECT pg_catalog.current_setting('server_version'),
       pg_catalog.current_setting('server_version_num')::int,
       pg_catalog.current_database(), current_user,
       r.rolsuper OR pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'),
       (SELECT d.stats_reset FROM pg_catalog.pg_stat_database d WHERE d.datname = pg_catalog.current_database()),
       pg_catalog.pg_postmaster_start_time(),
       pg_catalog.pg_is_in_recovery()
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`

func collectServer(ctx context.Context, tx querier, snap *dbstate.Snapshot, _ Options) error {
	s := &snap.Server
	err := tx.QueryRow(ctx, serverQuery).Scan(&s.Version, &s.VersionNum, &s.Database, &s.User,
		&s.ReadAllStats, &s.StatsReset, &s.StartedAt, &s.InRecovery)
	if err != nil {
		return err
	}
	utc(s.StatsReset)
	utc(s.StartedAt)
	if s.VersionNum < MinServerVersion {
		return &Error{Problem: fmt.Sprintf("PostgreSQL %s is older than pgtune supports (13)", s.Version),
			Fix: "upgrade the server to PostgreSQL 13 or newer"}
	}
	return nil
}
