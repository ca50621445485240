package pgconf

import (
	"fmt"
	"time"
)

// A primary with streaming read replicas (Instance.Replicas). pgtune renders one configuration
// for every node: the standby settings do nothing on a primary, the settings a hot standby must
// have at least as high as its primary's (max_connections, max_worker_processes,
// max_wal_senders, max_prepared_transactions, max_locks_per_transaction) are then equal by
// construction, and after a failover the promoted replica already has the primary's settings.
// The connection budget covers the larger of the primary's and a replica's (connections.go).

// standbyPolicy is how a profile's replicas trade replay against their own queries.
type standbyPolicy struct {
	feedback bool
	// delay is max_standby_streaming_delay (and _archive_delay): how long replay waits for a
	// conflicting query before cancelling it.
	delay time.Duration
	why   string
}

var standbyPolicies = map[Profile]standbyPolicy{
	ProfileWeb:     {true, 30 * time.Second, "a web app's replica reads are short: feedback keeps vacuum on the primary from cancelling them, and holds its horizon back by seconds only"},
	ProfileOLTP:    {true, 30 * time.Second, "short replica reads: feedback keeps vacuum on the primary from cancelling them, and holds its horizon back by seconds only"},
	ProfileMixed:   {true, 2 * time.Minute, "reports beside short reads: feedback spares them the cancellations of vacuum's cleanup; watch the primary's xmin horizon (pgtune maintain plan names a replica that holds it)"},
	ProfileDW:      {false, 15 * time.Minute, "long reports on the replicas would hold the primary's vacuum back for their whole length with feedback on (bloat where the writes are); off, replay waits for a conflicting report up to max_standby_streaming_delay, so the replicas may lag that long"},
	ProfileDesktop: {true, 30 * time.Second, "a developer's replica: no query there should be cancelled by replay"},
}

// replicationSettings renders the replication group when the primary has replicas.
func (p *plan) replicationSettings() {
	in := p.in
	if in.Replicas == 0 {
		return
	}
	senders := max(10, in.Replicas+3)
	p.set("replication", "wal_level", "replica", "streaming replicas need at least replica (logical would add the WAL logical decoding needs)")
	p.setInt("replication", "max_wal_senders", senders,
		fmt.Sprintf("%d replica(s), a pg_basebackup clone or a backup's WAL stream, and spares to re-clone a replica; a replica must have at least the primary's", in.Replicas))
	p.setInt("replication", "max_replication_slots", senders, "a slot per replica (the primary keeps the WAL a disconnected replica still needs), and spares")
	p.setBytes("replication", "max_slot_wal_keep_size", 4*p.maxWAL,
		"four times max_wal_size: a replica down this long loses its slot (re-clone it) instead of filling the primary's WAL disk; set it to what that disk can spare")
	p.set("replication", "wal_log_hints", "on", "lets pg_rewind turn a failed primary into a replica of the new one after a failover (not needed with data checksums)")
	p.set("replication", "hot_standby", "on", "replicas answer read queries while they replay")
	pol := standbyPolicies[in.Profile]
	p.set("replication", "hot_standby_feedback", onOff(pol.feedback), pol.why)
	delay := FormatDuration(pol.delay)
	p.set("replication", "max_standby_streaming_delay", delay,
		fmt.Sprintf("how long replay waits for a conflicting query on a replica before cancelling it, for a %s workload: also how far a conflict can make a replica lag", in.Profile))
	p.set("replication", "max_standby_archive_delay", delay, "the same wait while a replica replays from the archive (catching up after a restart)")
	p.note("One configuration for the primary and its %d replica(s): the standby settings do nothing on the primary, the settings a replica must have at least as high as the primary's are equal, and a promoted replica already has the primary's. max_connections covers the larger of the two nodes' budgets.", in.Replicas)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
