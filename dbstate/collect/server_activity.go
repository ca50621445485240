package collect

import (
	"context"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
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
	// pg_stat_io arrived in 16: only the rows that did any I/O.
	ioQuery = connect.Marker + `SELECT backend_type, object, context,
       coalesce(reads, 0)::int8, coalesce(writes, 0)::int8, coalesce(extends, 0)::int8, coalesce(hits, 0)::int8,
       coalesce(evictions, 0)::int8, coalesce(fsyncs, 0)::int8, stats_reset
FROM pg_catalog.pg_stat_io
WHERE coalesce(reads, 0) + coalesce(writes, 0) + coalesce(extends, 0) + coalesce(evictions, 0) + coalesce(fsyncs, 0) > 0
ORDER BY backend_type, object, context`
	wraparoundQuery = connect.Marker + `SELECT d.datname, pg_catalog.age(d.datfrozenxid)::int8,
       (SELECT max(pg_catalog.mxid_age(x.datminmxid))::int8 FROM pg_catalog.pg_database x)
FROM pg_catalog.pg_database d ORDER BY pg_catalog.age(d.datfrozenxid) DESC LIMIT 1`
)

func collectActivity(ctx context.Context, tx querier, snap *dbstate.Snapshot, _ Options) error {
	a := &dbstate.ServerActivity{CollectedAt: time.Now().UTC().Truncate(time.Millisecond), WALBytes: -1}
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
	if snap.Server.VersionNum >= 160000 {
		rows, err := tx.Query(ctx, ioQuery)
		if err != nil {
			return err
		}
		for rows.Next() {
			var r dbstate.IOStat
			var reset *time.Time
			if err := rows.Scan(&r.BackendType, &r.Object, &r.Context, &r.Reads, &r.Writes, &r.Extends, &r.Hits, &r.Evictions, &r.Fsyncs, &reset); err != nil {
				rows.Close()
				return err
			}
			if reset != nil && (a.IOSince == nil || reset.Before(*a.IOSince)) {
				a.IOSince = reset
			}
			a.IO = append(a.IO, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for _, t := range []*time.Time{a.CheckpointsSince, a.WALSince, a.DatabaseSince, a.IOSince} {
		utc(t)
	}
	snap.Activity = a
	return nil
}
