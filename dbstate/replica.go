package dbstate

import "time"

// Replica is what a snapshot holds of one read replica of the primary it was taken from: the
// statements it runs (read traffic that never reaches the primary's pg_stat_statements) and the
// scans of each index it made, with the age of its counters. The catalog, statistics and
// settings of a physical replica are the primary's, so they are not repeated.
type Replica struct {
	// Name identifies it: the host and port of its DSN (never its credentials).
	Name string `json:"name"`
	// Error says why it could not be read; the rest is then empty, and every conclusion that
	// needs all nodes (an index unused everywhere) is unknown.
	Error string `json:"error,omitempty"`
	// Server is its server_version, statistics reset and start time; InRecovery is true for a
	// replica (a promoted one is refused).
	Server     Server     `json:"server"`
	Statements Statements `json:"statements"`
	// IndexScans are its pg_stat_all_indexes counters for the snapshot's indexes.
	IndexScans []IndexScans `json:"index_scans,omitempty"`
	// Settings are its own pg_settings where they differ from the primary's (hot_standby_feedback,
	// max_standby_streaming_delay, max_connections).
	Settings []Setting `json:"settings,omitempty"`
	// Recovery is its replay's state and cost.
	Recovery *Recovery `json:"recovery,omitempty"`
}

// IndexScans is one node's use of an index.
type IndexScans struct {
	Schema   string     `json:"schema"`
	Name     string     `json:"name"`
	Scans    int64      `json:"idx_scan"`
	LastScan *time.Time `json:"last_idx_scan,omitempty"`
}

// Key is the index's catalog key, as Index.Key.
func (s IndexScans) Key() string { return QualifiedName(s.Schema, s.Name) }

// NodeScans sums an index's scans over the primary and every replica read (negative counts, for
// "unknown", add nothing). complete is false when a replica could not be read; lagging names the
// replicas read that do not have the index yet (they have not replayed its creation: their
// queries cannot have used it, and nobody can tell whether they will).
func (s *Snapshot) NodeScans(ix *Index) (total int64, perNode map[string]int64, complete bool, lagging []string) {
	complete = true
	perNode = map[string]int64{}
	if ix.Scans > 0 {
		total = ix.Scans
	}
	perNode["primary"] = ix.Scans
	key := ix.Key()
	for _, r := range s.Replicas {
		if r.Error != "" {
			complete = false
			continue
		}
		found := false
		for _, sc := range r.IndexScans {
			if sc.Key() == key {
				found = true
				perNode[r.Name] = sc.Scans
				if sc.Scans > 0 {
					total += sc.Scans
				}
			}
		}
		if !found {
			lagging = append(lagging, r.Name)
		}
	}
	return total, perNode, complete, lagging
}

// Replication is the primary's view of its replication: the standbys streaming from it
// (pg_stat_replication) and its replication slots (pg_replication_slots).
type Replication struct {
	Standbys []Standby `json:"standbys"`
	Slots    []Slot    `json:"slots"`
	// Restricted: the role may not read the standbys' positions and lags (they need
	// pg_read_all_stats, or pg_monitor).
	Restricted bool `json:"restricted,omitempty"`
}

// Standby is one row of pg_stat_replication: a replica (or a base backup) streaming WAL.
type Standby struct {
	// Name is its application_name (the replica's cluster_name or what its primary_conninfo
	// says); Addr its client address.
	Name      string `json:"name"`
	Addr      string `json:"client_addr,omitempty"`
	State     string `json:"state"`
	SyncState string `json:"sync_state,omitempty"`
	// Slot is the replication slot it streams through ("" for none).
	Slot string `json:"slot,omitempty"`
	// SentLagBytes and ReplayLagBytes are how far behind the primary's current WAL position
	// its sent and replayed positions are (-1: unknown).
	SentLagBytes   int64 `json:"sent_lag_bytes"`
	ReplayLagBytes int64 `json:"replay_lag_bytes"`
	// ReplayLagSeconds is pg_stat_replication.replay_lag (-1: unknown; it is NULL once the
	// standby has caught up and the primary is idle).
	ReplayLagSeconds float64 `json:"replay_lag_seconds"`
	// XminAge is age(backend_xmin): the oldest snapshot its queries hold, fed back with
	// hot_standby_feedback (0: none).
	XminAge int64 `json:"xmin_age,omitempty"`
}

// Slot is one replication slot of the primary.
type Slot struct {
	Name   string `json:"name"`
	Type   string `json:"type"` // physical or logical
	Active bool   `json:"active"`
	// RetainedBytes is the WAL it keeps from being removed (from its restart_lsn; -1 unknown).
	RetainedBytes int64 `json:"retained_bytes"`
	// WALStatus is reserved, extended, unreserved or lost (13+).
	WALStatus string `json:"wal_status,omitempty"`
	XminAge   int64  `json:"xmin_age,omitempty"`
}

// Recovery is a replica's own view of its replay: how far behind it is and what replay has
// cost its queries.
type Recovery struct {
	// Paused: replay is paused (pg_wal_replay_pause, or a recovery target reached).
	Paused bool `json:"paused"`
	// ReceiveReplayBytes is WAL received but not yet replayed (-1: unknown).
	ReceiveReplayBytes int64 `json:"receive_replay_bytes"`
	// ReplayDelaySeconds is now() - pg_last_xact_replay_timestamp(): the age of the last
	// transaction replayed (-1: none replayed yet); on an idle primary it grows without lag.
	ReplayDelaySeconds float64 `json:"replay_delay_seconds"`
	// Conflicts are pg_stat_database_conflicts for the database: queries cancelled because
	// replay needed what they held, by kind (tablespace, lock, snapshot, bufferpin, deadlock,
	// and on 16+ active_logicalslot).
	Conflicts map[string]int64 `json:"conflicts,omitempty"`
}
