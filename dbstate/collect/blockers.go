package collect

import (
	"context"
	"fmt"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/connect"
)

// What holds back the xmin horizon (VACUUM cannot remove rows, or freeze, past it): sessions with
// an old snapshot (pg_stat_activity.backend_xmin), prepared transactions and replication slots.
// Only those a million transactions old or more are worth a DBA's attention.
const (
	blockerMinAge = 1_000_000

	blockingSessionsQuery = connect.Marker + `SELECT a.pid, coalesce(a.usename, ''), coalesce(a.state, ''), coalesce(a.application_name, ''),
       pg_catalog.age(a.backend_xmin)::int8, a.xact_start, pg_catalog.left(coalesce(a.query, ''), 200),
       coalesce(a.backend_type, ''), coalesce(host(a.client_addr), '')
FROM pg_catalog.pg_stat_activity a
WHERE a.backend_xmin IS NOT NULL AND pg_catalog.age(a.backend_xmin) >= $1 AND a.pid <> pg_catalog.pg_backend_pid()
ORDER BY pg_catalog.age(a.backend_xmin) DESC LIMIT 10`
	preparedQuery = connect.Marker + `SELECT gid, owner::text, database::text, pg_catalog.age(transaction)::int8, prepared
FROM pg_catalog.pg_prepared_xacts WHERE pg_catalog.age(transaction) >= $1 ORDER BY 4 DESC LIMIT 10`
	slotsQuery = connect.Marker + `SELECT slot_name::text, slot_type, active,
       greatest(coalesce(pg_catalog.age(xmin), 0), coalesce(pg_catalog.age(catalog_xmin), 0))::int8,
       xmin IS NOT NULL AND slot_type = 'physical'
FROM pg_catalog.pg_replication_slots
WHERE greatest(coalesce(pg_catalog.age(xmin), 0), coalesce(pg_catalog.age(catalog_xmin), 0)) >= $1 ORDER BY 4 DESC`
)

func collectBlockers(ctx context.Context, tx querier, snap *dbstate.Snapshot, _ Options) error {
	rows, err := tx.Query(ctx, blockingSessionsQuery, blockerMinAge)
	if err != nil {
		return err
	}
	for rows.Next() {
		var pid int
		var user, state, app, query, backendType, addr string
		var b dbstate.Blocker
		if err := rows.Scan(&pid, &user, &state, &app, &b.XIDAge, &b.Since, &query, &backendType, &addr); err != nil {
			rows.Close()
			return err
		}
		b.Kind, b.Name = "session", fmt.Sprintf("pid %d (%s, %s)", pid, user, app)
		b.Detail = state + ": " + query
		if backendType == "walsender" {
			// A walsender's xmin is its replica's oldest snapshot, fed back by
			// hot_standby_feedback (without a slot; with one, the slot holds it).
			b.Kind, b.Name = "replica_feedback", fmt.Sprintf("%s (%s, walsender pid %d)", app, addr, pid)
			b.Detail = "hot_standby_feedback from the replica: its oldest running query's snapshot"
		}
		utc(b.Since)
		snap.Blockers = append(snap.Blockers, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = tx.Query(ctx, preparedQuery, blockerMinAge)
	if err != nil {
		return err
	}
	for rows.Next() {
		var gid, owner, db string
		var b dbstate.Blocker
		var at time.Time
		if err := rows.Scan(&gid, &owner, &db, &b.XIDAge, &at); err != nil {
			rows.Close()
			return err
		}
		at = at.UTC()
		b.Kind, b.Name, b.Since = "prepared_transaction", gid, &at
		b.Detail = fmt.Sprintf("prepared by %s in database %s; COMMIT PREPARED or ROLLBACK PREPARED '%s'", owner, db, gid)
		snap.Blockers = append(snap.Blockers, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = tx.Query(ctx, slotsQuery, blockerMinAge)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name, kind string
		var active, feedback bool
		var b dbstate.Blocker
		if err := rows.Scan(&name, &kind, &active, &b.XIDAge, &feedback); err != nil {
			return err
		}
		state := "inactive: nothing consumes it; drop it with pg_drop_replication_slot('" + name + "') if its consumer is gone"
		if active {
			state = "active: its consumer is behind"
		}
		b.Kind, b.Name, b.Detail = "replication_slot", name, kind+" slot, "+state
		if feedback {
			// Only hot_standby_feedback sets a physical slot's xmin: the replica streaming
			// from it runs a query (or a transaction) that old.
			b.Kind, b.Name = "replica_feedback", "slot "+name
			b.Detail = "hot_standby_feedback from the replica streaming from this slot: its oldest running query's snapshot"
			if !active {
				b.Detail = "hot_standby_feedback the replica of this slot sent before it went away, kept by the inactive slot; drop it with pg_drop_replication_slot('" + name + "') if that replica is gone"
			}
		}
		snap.Blockers = append(snap.Blockers, b)
	}
	return rows.Err()
}
