package collect

import (
	"context"
	"time"

	"github.com/bookedbarber/pgtune/advisor/model"
	"github.com/bookedbarber/pgtune/internal/connect"
)

// Checkpoint counters moved from pg_stat_bgwriter to pg_stat_checkpointer in 17.
const (
	checkpointsQuery16 = connect.Marker + `SELECT checkpoints_timed, checkpoints_req, stats_reset FROM pg_catalog.pg_stat_bgwriter`
	checkpointsQuery17 = connect.Marker + `SELECT num_timed, num_requested, stats_reset FROM pg_catalog.pg_stat_checkpointer`
	// pg_stat_wal arrived in 14.
	walQuery = connect.Marker + `SELECT wal_bytes::int8, stats_reset FROM pg_catalog.pg_stat_wal`
	// Summed over every database; the oldest reset bounds the window the sums cover.
	databaseActivityQuery = connect.Marker + `SELECT coalesce(sum(temp_files), 0)::int8, coalesce(sum(temp_bytes), 0)::int8,
       coalesce(sum(blks_hit), 0)::int8, coalesce(sum(blks_read), 0)::int8,
       coalesce(min(stats_reset), pg_catalog.pg_postmaster_start_time())
FROM pg_catalog.pg_stat_database WHERE datname IS NOT NULL`
	backendsQuery = connect.Marker + `SELECT count(*) FILTER (WHERE backend_type = 'client backend'),
       count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active'),
       count(*) FILTER (WHERE backend_type = 'autovacuum worker')
FROM pg_catalog.pg_stat_activity`
	wraparoundQuery = connect.Marker + `SELECT d.datname, pg_catalog.age(d.datfrozenxid)::int8,
       (SELECT max(pg_catalog.mxid_age(x.datminmxid))::int8 FROM pg_catalog.pg_database x)
FROM pg_catalog.pg_database d ORDER BY pg_catalog.age(d.datfrozenxid) DESC LIMIT 1`
)

func collectActivity(ctx context.Context, tx querier, snap *model.Snapshot, _ Options) error {
	a := &model.ServerActivity{CollectedAt: time.Now().UTC().Truncate(time.Millisecond), WALBytes: -1}
	q := checkpointsQuery16
	if snap.Server.VersionNum >= 170000 {
		q = checkpointsQuery17
	}
	if err := tx.QueryRow(ctx, q).Scan(&a.CheckpointsTimed, &a.CheckpointsRequested, &a.CheckpointsSince); err != nil {
		return err
	}
	if snap.Server.VersionNum >= 140000 {
		if err := tx.QueryRow(ctx, walQuery).Scan(&a.WALBytes, &a.WALSince); err != nil {
			return err
		}
	}
	if err := tx.QueryRow(ctx, databaseActivityQuery).Scan(&a.TempFiles, &a.TempBytes, &a.BlocksHit, &a.BlocksRead, &a.DatabaseSince); err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, backendsQuery).Scan(&a.ClientBackends, &a.ActiveBackends, &a.AutovacuumRunning); err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, wraparoundQuery).Scan(&a.OldestXIDDatabase, &a.OldestXIDAge, &a.OldestMXIDAge); err != nil {
		return err
	}
	for _, t := range []*time.Time{a.CheckpointsSince, a.WALSince, a.DatabaseSince} {
		utc(t)
	}
	snap.Activity = a
	return nil
}
