package dbstate

import "time"

// ServerActivity is the server-wide evidence pgtune sizes settings from: how checkpoints were
// triggered, how much WAL is written, how often queries spill to temporary files, how much is
// read from outside shared_buffers, how many connections are in use, and how old the oldest
// unfrozen transaction IDs are. Counters are cumulative since their reset; Since says when that
// was, so rates can be taken.
type ServerActivity struct {
	CollectedAt time.Time `json:"collected_at"`

	// Checkpoints (pg_stat_bgwriter before 17, pg_stat_checkpointer from 17).
	CheckpointsTimed     int64      `json:"checkpoints_timed"`
	CheckpointsRequested int64      `json:"checkpoints_requested"`
	CheckpointsSince     *time.Time `json:"checkpoints_since,omitempty"`

	// WALBytes is pg_stat_wal.wal_bytes (14+; -1 before).
	WALBytes int64      `json:"wal_bytes"`
	WALSince *time.Time `json:"wal_since,omitempty"`

	// Database counters summed over every database (pg_stat_database).
	TempFiles     int64      `json:"temp_files"`
	TempBytes     int64      `json:"temp_bytes"`
	BlocksHit     int64      `json:"blocks_hit"`
	BlocksRead    int64      `json:"blocks_read"`
	DatabaseSince *time.Time `json:"database_since,omitempty"`

	// Connections now (pg_stat_activity).
	ClientBackends    int `json:"client_backends"`
	ActiveBackends    int `json:"active_backends"`
	AutovacuumRunning int `json:"autovacuum_running"`
	// OldestXIDAge is the largest age(datfrozenxid) of any database, and OldestXIDDatabase
	// that database; OldestMXIDAge is the largest mxid_age(datminmxid).
	OldestXIDAge      int64  `json:"oldest_xid_age"`
	OldestXIDDatabase string `json:"oldest_xid_database"`
	OldestMXIDAge     int64  `json:"oldest_mxid_age"`

	// IO is pg_stat_io (16+; nil before): reads, writes and extends by backend type, object and
	// context, the rows with any I/O. IOSince is its oldest stats_reset.
	IO      []IOStat   `json:"io,omitempty"`
	IOSince *time.Time `json:"io_since,omitempty"`
}

// IOStat is one row of pg_stat_io, in blocks (operations of op_bytes, 8 kB for relations).
type IOStat struct {
	BackendType string `json:"backend_type"`
	Object      string `json:"object"`
	Context     string `json:"context"`
	Reads       int64  `json:"reads"`
	Writes      int64  `json:"writes"`
	Extends     int64  `json:"extends"`
	Hits        int64  `json:"hits"`
	Evictions   int64  `json:"evictions"`
	Fsyncs      int64  `json:"fsyncs"`
}

// Window is how long counters since t cover at the time of collection (0 when unknown).
func (a *ServerActivity) Window(since *time.Time) time.Duration {
	if a == nil || since == nil || since.IsZero() || a.CollectedAt.Before(*since) {
		return 0
	}
	return a.CollectedAt.Sub(*since)
}
