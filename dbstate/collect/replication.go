package collect

import (
	"context"
	"fmt"
	"net"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
)

// standbysQuery reads pg_stat_replication. Without pg_read_all_stats the positions and lags are
// NULL (the row is still there).
const standbysQuery = connect.Marker + `SELECT coalesce(r.application_name, ''), coalesce(host(r.client_addr), ''),
       coalesce(r.state, ''), coalesce(r.sync_state, ''), coalesce(s.slot_name::text, ''),
       coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.sent_lsn)::int8, -1),
       coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.replay_lsn)::int8, -1),
       coalesce(extract(epoch FROM r.replay_lag)::float8, -1),
       coalesce(pg_catalog.age(r.backend_xmin), 0)::int8,
       r.state IS NULL
FROM pg_catalog.pg_stat_replication r
LEFT JOIN pg_catalog.pg_replication_slots s ON s.active_pid = r.pid
WHERE r.state IS DISTINCT FROM 'backup'
ORDER BY 1, 2`

// slotsListQuery reads every replication slot with the WAL it retains. %s is wal_status (13+).
const slotsListQuery = connect.Marker + `SELECT slot_name::text, slot_type, active,
       coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn)::int8, -1),
       coalesce(wal_status, ''),
       greatest(coalesce(pg_catalog.age(xmin), 0), coalesce(pg_catalog.age(catalog_xmin), 0))::int8
FROM pg_catalog.pg_replication_slots ORDER BY 1`

func collectReplication(ctx context.Context, tx querier, snap *dbstate.Snapshot, _ Options) error {
	if snap.Server.InRecovery {
		return nil
	}
	rep := &dbstate.Replication{Standbys: []dbstate.Standby{}, Slots: []dbstate.Slot{}}
	rows, err := tx.Query(ctx, standbysQuery)
	if err != nil {
		return err
	}
	for rows.Next() {
		var s dbstate.Standby
		var restricted bool
		if err := rows.Scan(&s.Name, &s.Addr, &s.State, &s.SyncState, &s.Slot, &s.SentLagBytes, &s.ReplayLagBytes,
			&s.ReplayLagSeconds, &s.XminAge, &restricted); err != nil {
			rows.Close()
			return err
		}
		rep.Restricted = rep.Restricted || restricted
		rep.Standbys = append(rep.Standbys, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	snap.StreamingReplicas = len(rep.Standbys)
	rows, err = tx.Query(ctx, slotsListQuery)
	if err != nil {
		return err
	}
	rep.Slots, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (dbstate.Slot, error) {
		var s dbstate.Slot
		err := r.Scan(&s.Name, &s.Type, &s.Active, &s.RetainedBytes, &s.WALStatus, &s.XminAge)
		return s, err
	})
	if err != nil {
		return err
	}
	snap.Replication = rep
	return nil
}

// recoveryQuery is a replica's own view of its replay. %s reads pg_is_wal_replay_paused() or,
// from 14 on, pg_get_wal_replay_pause_state() (a pause requested but not yet reached counts).
const recoveryQuery = connect.Marker + `SELECT %s,
       coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())::int8, -1),
       coalesce(extract(epoch FROM now() - pg_catalog.pg_last_xact_replay_timestamp())::float8, -1),
       c.confl_tablespace, c.confl_lock, c.confl_snapshot, c.confl_bufferpin, c.confl_deadlock, %s
FROM pg_catalog.pg_stat_database_conflicts c WHERE c.datname = pg_catalog.current_database()`

func collectRecovery(ctx context.Context, conn *pgx.Conn, versionNum int) (*dbstate.Recovery, error) {
	paused, logical := "pg_catalog.pg_is_wal_replay_paused()", "0::int8"
	if versionNum >= 140000 {
		paused = "pg_catalog.pg_get_wal_replay_pause_state() <> 'not paused'"
	}
	if versionNum >= 160000 {
		logical = "c.confl_active_logicalslot"
	}
	r := &dbstate.Recovery{}
	var ts, lock, snapshot, pin, deadlock, slot int64
	err := conn.QueryRow(ctx, sprintf(recoveryQuery, paused, logical)).Scan(&r.Paused, &r.ReceiveReplayBytes, &r.ReplayDelaySeconds,
		&ts, &lock, &snapshot, &pin, &deadlock, &slot)
	if err != nil {
		return nil, err
	}
	r.Conflicts = map[string]int64{}
	for k, v := range map[string]int64{"tablespace": ts, "lock": lock, "snapshot": snapshot, "bufferpin": pin, "deadlock": deadlock, "active_logicalslot": slot} {
		if v > 0 {
			r.Conflicts[k] = v
		}
	}
	return r, nil
}

// replicaSettings are the settings a replica may hold apart from its primary, kept with it.
var replicaSettings = []string{"hot_standby", "hot_standby_feedback", "max_standby_streaming_delay", "max_standby_archive_delay",
	"max_connections", "max_worker_processes", "max_wal_senders", "max_prepared_transactions", "max_locks_per_transaction",
	"pg_stat_statements.track", "primary_slot_name", "recovery_min_apply_delay"}

// Replica reads one read replica of the primary primary was collected from: its statements and
// its index scans (what the primary's counters never see), its own settings and its statistics'
// age. A server that is not in recovery (a promoted replica, or the wrong DSN) is an error: its
// counters are not a replica's. name is how the report names it.
func Replica(ctx context.Context, conn *pgx.Conn, name string, primary *dbstate.Snapshot, o Options) (dbstate.Replica, error) {
	o.NoValues, o.replica = true, true
	snap, err := Collect(ctx, conn, o)
	if err != nil {
		return dbstate.Replica{}, err
	}
	if !snap.Server.InRecovery {
		return dbstate.Replica{}, &Error{Problem: fmt.Sprintf("%s is not in recovery: it is a primary (promoted since, or not a replica of this one), so its counters are not a replica's", name),
			Fix: "pass only the DSNs of the primary's streaming replicas to --replica-dsn"}
	}
	if snap.Server.Database != primary.Server.Database {
		return dbstate.Replica{}, &Error{Problem: fmt.Sprintf("%s is connected to database %s, the primary to %s", name, snap.Server.Database, primary.Server.Database),
			Fix: "name the same database in every DSN"}
	}
	r := dbstate.Replica{Name: name, Server: snap.Server, Statements: snap.Statements}
	if r.Recovery, err = collectRecovery(ctx, conn, snap.Server.VersionNum); err != nil {
		return dbstate.Replica{}, fmt.Errorf("read its recovery state: %w%s", err, hint(err))
	}
	for _, ix := range snap.Indexes {
		r.IndexScans = append(r.IndexScans, dbstate.IndexScans{Schema: ix.Schema, Name: ix.Name, Scans: ix.Scans, LastScan: ix.LastScan})
	}
	for _, st := range snap.Settings {
		if !slices.Contains(replicaSettings, st.Name) {
			continue
		}
		if v, ok := primary.Setting(st.Name); !ok || v != st.Setting || st.Name == "hot_standby_feedback" {
			r.Settings = append(r.Settings, st)
		}
	}
	return r, nil
}

// NodeName is how a report names a node: the host and port it was reached at, never a
// credential.
func NodeName(cfg *pgx.ConnConfig) string {
	return net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port))
}
