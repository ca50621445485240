package dbstate

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SnapshotFormat names pgtune's snapshot documents; SnapshotVersion is their version. A reader
// refuses other versions with a message naming the pgtune release that writes them.
const (
	SnapshotFormat  = "pgtune-snapshot"
	SnapshotVersion = 1
)

// Snapshot is everything the advisor reads from a database: what it runs (pg_stat_statements),
// what it is made of (catalog) and what its statistics say. A live run collects one and analyses
// it at once; `pgtune snapshot` writes one to a file so a DBA can analyse production offline.
type Snapshot struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Source says how the snapshot was made: "live" (collected from a server), "dump" (a
	// pg_dump --schema-only file plus a pg_stat_statements CSV export).
	Source        string    `json:"source"`
	TakenAt       time.Time `json:"taken_at"`
	PgtuneVersion string    `json:"pgtune_version"`

	Server     Server      `json:"server"`
	Settings   []Setting   `json:"settings"`
	Extensions []Extension `json:"extensions"`
	// AvailableExtensions are extensions the server's packages offer but the database has not
	// created (pg_trgm, hypopg): what a fix may CREATE.
	AvailableExtensions []string     `json:"available_extensions,omitempty"`
	Tables              []Table      `json:"tables"`
	Indexes             []Index      `json:"indexes"`
	Constraints         []Constraint `json:"constraints"`
	Triggers            []Trigger    `json:"triggers"`
	// Views are the user views, with their definitions: a statement that reads a view reads
	// the view's tables, and the index engine plans through it as the planner does.
	Views       []View       `json:"views,omitempty"`
	ColumnStats []ColumnStat `json:"column_stats"`
	// IndexBuilds are indexes being built right now (pg_stat_progress_create_index): an invalid
	// index among them is work in progress, not a leftover.
	IndexBuilds []string `json:"index_builds,omitempty"`

	Statements Statements `json:"statements"`

	// Activity is the server-wide evidence for sizing settings (nil in snapshots made before it
	// was collected, and from dumps).
	Activity *ServerActivity `json:"activity,omitempty"`

	// Blockers hold back the xmin horizon, so VACUUM cannot remove or freeze past them.
	Blockers []Blocker `json:"blockers,omitempty"`

	// Replicas are the primary's read replicas read beside it (--replica-dsn): their workload
	// and index use. StreamingReplicas is how many replicas pg_stat_replication shows streaming
	// from the server (-1: unknown, the role may not see them), read or not.
	Replicas          []Replica `json:"replicas,omitempty"`
	StreamingReplicas int       `json:"streaming_replicas,omitempty"`
	// Replication is the server's own view of its standbys and slots (nil: not collected).
	Replication *Replication `json:"replication,omitempty"`

	// Gaps lists what could not be collected and why (a missing privilege, an old extension), so
	// the advisor and the reader know which findings are missing.
	Gaps []Gap `json:"gaps,omitempty"`
}

// Gap is something the snapshot lacks.
type Gap struct {
	// What is missing, e.g. "column_stats".
	What string `json:"what"`
	// Why, and the fix.
	Reason string `json:"reason"`
}

// Server describes the server the snapshot came from.
type Server struct {
	Version    string `json:"version"`     // server_version, e.g. "15.18 (Debian 15.18-0+deb12u1)"
	VersionNum int    `json:"version_num"` // server_version_num, e.g. 150018
	Database   string `json:"database"`
	User       string `json:"user"`
	// ReadAllStats: the user may see every role's statements (superuser or pg_read_all_stats).
	ReadAllStats bool `json:"read_all_stats"`
	// StatsReset is pg_stat_database.stats_reset for the database. nil: never reset, so the
	// counters' age is unknown on 15+ (they outlive restarts), and the audit counts it as too
	// young to call an index unused; before 15 StartedAt bounds it (a restart zeroes them).
	StatsReset *time.Time `json:"stats_reset,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"` // pg_postmaster_start_time()
	InRecovery bool       `json:"in_recovery,omitempty"`
}

// Setting is one row of pg_settings.
type Setting struct {
	Name    string `json:"name"`
	Setting string `json:"setting"`
	Unit    string `json:"unit,omitempty"`
	Source  string `json:"source,omitempty"`
	// Context says what changing it takes ("postmaster" = a restart, "sighup" = a reload, ...).
	Context string `json:"context,omitempty"`
}

// Extension is an installed extension.
type Extension struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Schema  string `json:"schema"`
	// Default is the version the server's packages offer (an older Version needs ALTER EXTENSION
	// ... UPDATE).
	Default string `json:"default,omitempty"`
}

// Table is a table, a partitioned table or a materialised view.
type Table struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	// Kind is "table", "partitioned" (a partitioned parent, which holds no rows itself) or
	// "matview".
	Kind string `json:"kind"`
	// Parent is the partitioned table this one is a partition of.
	Parent      string   `json:"parent,omitempty"`
	Columns     []Column `json:"columns"`
	Reloptions  []string `json:"reloptions,omitempty"`
	Persistence string   `json:"persistence,omitempty"` // "unlogged", "temporary"; empty = permanent
	// ReplicaIdentityIndex is the index named by REPLICA IDENTITY USING INDEX.
	ReplicaIdentityIndex string `json:"replica_identity_index,omitempty"`
	// RowEstimate is pg_class.reltuples (-1 when never vacuumed or analysed, PG 14+).
	RowEstimate float64 `json:"row_estimate"`
	Pages       int64   `json:"pages"` // pg_class.relpages
	// SizeBytes is the heap (main fork); TotalBytes adds indexes and TOAST.
	SizeBytes  int64       `json:"size_bytes"`
	TotalBytes int64       `json:"total_bytes"`
	Stats      *TableStats `json:"stats,omitempty"`
	// XIDAge is the greater of the heap's and its TOAST table's age(relfrozenxid), MXIDAge the
	// same for mxid_age(relminmxid): how close the table is to a forced anti-wraparound vacuum.
	XIDAge  int64 `json:"xid_age,omitempty"`
	MXIDAge int64 `json:"mxid_age,omitempty"`
	// InheritedStats: a partitioned parent has statistics of its own (someone ran ANALYZE on it;
	// autovacuum never does).
	InheritedStats bool `json:"inherited_stats,omitempty"`
	// IndexCount is how many indexes the table has (VACUUM's index phase, PARALLEL).
	IndexCount int `json:"index_count,omitempty"`
	// Unreadable: the role that took the snapshot has no SELECT on the table, so the planner
	// refuses it EXPLAIN (no planner proofs for the statements that read it).
	Unreadable bool `json:"unreadable,omitempty"`
	// Owner is the table's owner role. NoMaintain: the role that took the snapshot may not VACUUM
	// or ANALYZE it (it neither owns the table, through membership, nor the database; on 17+ it
	// has no MAINTAIN privilege, nor pg_maintain), so PostgreSQL would skip it with a warning.
	Owner      string `json:"owner,omitempty"`
	NoMaintain bool   `json:"no_maintain,omitempty"`
}

// Key is "schema.name".
func (t *Table) Key() string { return QualifiedName(t.Schema, t.Name) }

// Column looks a column up by name.
func (t *Table) Column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// Column is a table column.
type Column struct {
	Name    string `json:"name"`
	Type    string `json:"type"` // format_type(), e.g. "timestamp with time zone"
	NotNull bool   `json:"not_null,omitempty"`
	Default string `json:"default,omitempty"`
	// Generated is "stored" for a generated column, "identity" for an identity column.
	Generated string `json:"generated,omitempty"`
}

// TableStats is a row of pg_stat_user_tables.
type TableStats struct {
	SeqScan          int64      `json:"seq_scan"`
	SeqTupRead       int64      `json:"seq_tup_read"`
	IdxScan          int64      `json:"idx_scan"`
	IdxTupFetch      int64      `json:"idx_tup_fetch"`
	Inserts          int64      `json:"n_tup_ins"`
	Updates          int64      `json:"n_tup_upd"`
	Deletes          int64      `json:"n_tup_del"`
	HotUpdates       int64      `json:"n_tup_hot_upd"`
	LiveTuples       int64      `json:"n_live_tup"`
	DeadTuples       int64      `json:"n_dead_tup"`
	ModSinceAnalyze  int64      `json:"n_mod_since_analyze"`
	InsSinceVacuum   int64      `json:"n_ins_since_vacuum"`
	LastVacuum       *time.Time `json:"last_vacuum,omitempty"`
	LastAutovacuum   *time.Time `json:"last_autovacuum,omitempty"`
	LastAnalyze      *time.Time `json:"last_analyze,omitempty"`
	LastAutoanalyze  *time.Time `json:"last_autoanalyze,omitempty"`
	VacuumCount      int64      `json:"vacuum_count"`
	AutovacuumCount  int64      `json:"autovacuum_count"`
	AnalyzeCount     int64      `json:"analyze_count"`
	AutoanalyzeCount int64      `json:"autoanalyze_count"`
}

// LastAnalyzed is the later of the manual and automatic analyse times (nil if never).
func (s *TableStats) LastAnalyzed() *time.Time { return later(s.LastAnalyze, s.LastAutoanalyze) }

// LastVacuumed is the later of the manual and automatic vacuum times (nil if never).
func (s *TableStats) LastVacuumed() *time.Time { return later(s.LastVacuum, s.LastAutovacuum) }

func later(a, b *time.Time) *time.Time {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case b.After(*a):
		return b
	}
	return a
}

// Index is an index, with everything needed to compare it with another.
type Index struct {
	Schema string `json:"schema"`
	Table  string `json:"table"` // the table's name (same schema)
	Name   string `json:"name"`
	Method string `json:"method"` // btree, hash, gin, gist, brin, spgist, ...
	// Keys are the key columns or expressions, in order.
	Keys []IndexKey `json:"keys"`
	// Include are the INCLUDE (non-key) columns.
	Include []string `json:"include,omitempty"`
	// Predicate is the WHERE clause of a partial index, as pg_get_expr prints it.
	Predicate string `json:"predicate,omitempty"`
	Unique    bool   `json:"unique,omitempty"`
	Primary   bool   `json:"primary,omitempty"`
	// Valid is false for an index a failed CREATE INDEX CONCURRENTLY left behind (indisvalid).
	Valid bool `json:"valid"`
	// Constraint names the constraint the index backs (primary key, unique, exclusion), if any.
	Constraint string `json:"constraint,omitempty"`
	// ReferencedBy names the foreign keys that depend on this (unique) index: a foreign key
	// records, at creation, the referenced table's unique index it checks through
	// (pg_constraint.conindid), and the index cannot be dropped while it does. From a schema file
	// every unique index matching a foreign key's referenced columns is taken to be depended on.
	ReferencedBy []string `json:"referenced_by,omitempty"`
	// Partitioned marks an index on a partitioned parent (it has no storage of its own);
	// Attached one of a partition, attached to its parent's index (it cannot be dropped alone).
	Partitioned bool   `json:"partitioned,omitempty"`
	Attached    bool   `json:"attached,omitempty"`
	Definition  string `json:"definition"` // pg_get_indexdef
	SizeBytes   int64  `json:"size_bytes"`
	// Scans, TupRead, TupFetch come from pg_stat_user_indexes (-1 Scans: no statistics).
	Scans    int64 `json:"idx_scan"`
	TupRead  int64 `json:"idx_tup_read"`
	TupFetch int64 `json:"idx_tup_fetch"`
	// LastScan is pg_stat_user_indexes.last_idx_scan (PG 16+).
	LastScan *time.Time `json:"last_idx_scan,omitempty"`
}

// TableKey is the index's table as "schema.name".
func (ix *Index) TableKey() string { return QualifiedName(ix.Schema, ix.Table) }

// Key is the index's "schema.name".
func (ix *Index) Key() string { return QualifiedName(ix.Schema, ix.Name) }

// IndexKey is one key column or expression of an index.
type IndexKey struct {
	// Column is the column name for a plain key; Expr the expression for an expression key.
	Column string `json:"column,omitempty"`
	Expr   string `json:"expr,omitempty"`
	// Opclass is set when not the type's default operator class; Collation when not the column's.
	Opclass   string `json:"opclass,omitempty"`
	Collation string `json:"collation,omitempty"`
	Desc      bool   `json:"desc,omitempty"`
	// NullsFirst is the NULLS FIRST flag; PostgreSQL's default is NULLS LAST for ascending keys and
	// NULLS FIRST for descending ones.
	NullsFirst bool `json:"nulls_first,omitempty"`
}

// String renders the key as in CREATE INDEX.
func (k IndexKey) String() string {
	var b strings.Builder
	if k.Column != "" {
		b.WriteString(k.Column)
	} else {
		b.WriteString("(" + k.Expr + ")")
	}
	if k.Collation != "" {
		b.WriteString(" COLLATE " + k.Collation)
	}
	if k.Opclass != "" {
		b.WriteString(" " + k.Opclass)
	}
	switch {
	case k.Desc && !k.NullsFirst:
		b.WriteString(" DESC NULLS LAST")
	case k.Desc:
		b.WriteString(" DESC")
	case k.NullsFirst:
		b.WriteString(" NULLS FIRST")
	}
	return b.String()
}

// Constraint is a table constraint.
type Constraint struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	Name   string `json:"name"`
	// Type is "primary_key", "unique", "foreign_key", "check", "exclusion" or "not_null".
	Type    string   `json:"type"`
	Columns []string `json:"columns,omitempty"`
	// References is the referenced table ("schema.name") and RefColumns its columns, for
	// foreign keys.
	References string   `json:"references,omitempty"`
	RefColumns []string `json:"ref_columns,omitempty"`
	Definition string   `json:"definition"`
	Validated  bool     `json:"validated"`
	Index      string   `json:"index,omitempty"` // the index enforcing it
}

// Trigger is a user trigger (the internal ones enforcing foreign keys are left out).
type Trigger struct {
	Schema     string `json:"schema"`
	Table      string `json:"table"`
	Name       string `json:"name"`
	Enabled    bool   `json:"enabled"`
	Definition string `json:"definition"`
}

// View is a view (relkind v) and its definition, a SELECT (pg_get_viewdef).
type View struct {
	Schema     string `json:"schema"`
	Name       string `json:"name"`
	Definition string `json:"definition"`
}

// Key names the view "schema.name".
func (v View) Key() string { return QualifiedName(v.Schema, v.Name) }

// ColumnStat is a row of pg_stats: the planner's picture of one column.
type ColumnStat struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	Column string `json:"column"`
	// Inherited rows describe a parent together with its children (partitioned tables).
	Inherited bool    `json:"inherited,omitempty"`
	NullFrac  float64 `json:"null_frac"`
	AvgWidth  int     `json:"avg_width"`
	// NDistinct > 0 is a count of distinct values; < 0 is minus the fraction of rows that are
	// distinct (-1: unique).
	NDistinct       float64   `json:"n_distinct"`
	MostCommonVals  []string  `json:"most_common_vals,omitempty"`
	MostCommonFreqs []float64 `json:"most_common_freqs,omitempty"`
	HistogramBounds []string  `json:"histogram_bounds,omitempty"`
	// Correlation of physical order and value order, -1..1 (nil when not computed).
	Correlation *float64 `json:"correlation,omitempty"`
}

// Statements is what pg_stat_statements says the database runs.
type Statements struct {
	// ExtensionVersion is the installed pg_stat_statements version; the columns read depend on it.
	ExtensionVersion string `json:"extension_version,omitempty"`
	// Max is pg_stat_statements.max; Dealloc counts entries evicted since StatsReset (1.9+, -1
	// when unknown).
	Max        int        `json:"max"`
	Dealloc    int64      `json:"dealloc"`
	StatsReset *time.Time `json:"stats_reset,omitempty"`
	// TrackActivityQuerySize is the length at which the server truncates query texts.
	TrackActivityQuerySize int `json:"track_activity_query_size,omitempty"`
	// Hidden counts rows the user may not read (NULL queryid, or "<insufficient privilege>"
	// text): another role's statements without pg_read_all_stats.
	Hidden      int64   `json:"hidden_rows"`
	HiddenCalls int64   `json:"hidden_calls"`
	HiddenMs    float64 `json:"hidden_total_exec_ms"`
	// Own counts pgtune's own statements, which are left out: those with the /* pgtune */
	// marker, and the nested statements recorded under pgtune's own role (with track = all its
	// EXPLAINs record the statements they plan as nested executions).
	Own int64 `json:"own_rows"`
	// OwnRole counts the rows of the role that took the snapshot (pgtune's, when it has one).
	OwnRole int64 `json:"own_role_rows,omitempty"`
	// Internal counts PostgreSQL's own statements, left out too: the foreign-key checks and
	// cascades its RI triggers run (SELECT 1 FROM ONLY ... FOR KEY SHARE OF x), recorded as
	// nested statements under track = all.
	Internal      int64   `json:"internal_rows,omitempty"`
	InternalCalls int64   `json:"internal_calls,omitempty"`
	InternalMs    float64 `json:"internal_total_exec_ms,omitempty"`
	// Entries counts pg_stat_statements' entries in the whole cluster (its max is cluster-wide),
	// pgtune's own and other databases' included.
	Entries int64 `json:"entries,omitempty"`
	// Untracked: pgtune's sessions ran with pg_stat_statements.track = none (superuser, or
	// GRANT SET ON PARAMETER on 15+), so the run added nothing to pg_stat_statements.
	Untracked bool           `json:"untracked,omitempty"`
	Rows      []StatementRow `json:"rows"`
	// Samples are distinct statement texts seen in pg_stat_activity, as the application sent
	// them: unlike pg_stat_statements' normalised texts they keep the literal constants the
	// application writes into its SQL (status = 'pending'). They are matched to rows by
	// fingerprint.
	Samples []string `json:"samples,omitempty"`
}

// QueryID is pg_stat_statements' queryid. JSON carries it as a string: it is a 64-bit integer,
// and JSON readers that hold numbers as doubles (jq, JavaScript) would round it.
type QueryID int64

// MarshalJSON writes the id as a JSON string.
func (q QueryID) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(q), 10) + `"`), nil
}

// UnmarshalJSON reads a string or a number.
func (q *QueryID) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseInt(strings.Trim(string(b), `"`), 10, 64)
	if err != nil {
		return fmt.Errorf("queryid %s: not a 64-bit integer", b)
	}
	*q = QueryID(v)
	return nil
}

// StatementRow is one row of pg_stat_statements (for the current database).
type StatementRow struct {
	QueryID QueryID `json:"queryid"`
	User    string  `json:"user,omitempty"`
	// Toplevel is false for statements run inside functions (1.9+; true before).
	Toplevel bool `json:"toplevel"`
	// Query is the normalised text; empty when the server could not read it (the text file was
	// being rewritten, or is unreadable).
	Query          string  `json:"query"`
	Calls          int64   `json:"calls"`
	TotalExecMs    float64 `json:"total_exec_ms"`
	MinExecMs      float64 `json:"min_exec_ms"`
	MaxExecMs      float64 `json:"max_exec_ms"`
	MeanExecMs     float64 `json:"mean_exec_ms"`
	StddevExecMs   float64 `json:"stddev_exec_ms"`
	Plans          int64   `json:"plans,omitempty"`
	TotalPlanMs    float64 `json:"total_plan_ms,omitempty"`
	Rows           int64   `json:"rows"`
	SharedBlksHit  int64   `json:"shared_blks_hit"`
	SharedBlksRead int64   `json:"shared_blks_read"`
	SharedBlksDirt int64   `json:"shared_blks_dirtied"`
	SharedBlksWrit int64   `json:"shared_blks_written"`
	TempBlksRead   int64   `json:"temp_blks_read"`
	TempBlksWrit   int64   `json:"temp_blks_written"`
	// BlkReadMs/BlkWriteMs are shared_blk_read_time/shared_blk_write_time (blk_read_time before
	// 1.11); zero unless track_io_timing is on.
	BlkReadMs  float64 `json:"blk_read_ms"`
	BlkWriteMs float64 `json:"blk_write_ms"`
	WalBytes   float64 `json:"wal_bytes"`
	// StatsSince is when the entry was created (1.11+), and MinMaxStatsSince when its min/max
	// times were last reset (1.11+; pg_stat_statements_reset(..., minmax_only => true)).
	StatsSince       *time.Time `json:"stats_since,omitempty"`
	MinMaxStatsSince *time.Time `json:"minmax_stats_since,omitempty"`
	// ParallelWorkersToLaunch/Launched are the parallel workers the plans asked for and got
	// (1.12+; -1 before, when unknown).
	ParallelWorkersToLaunch int64 `json:"parallel_workers_to_launch,omitempty"`
	ParallelWorkersLaunched int64 `json:"parallel_workers_launched,omitempty"`
	// WalBuffersFull counts the times WAL buffers filled up and the statement had to write them
	// out itself (1.12+).
	WalBuffersFull int64 `json:"wal_buffers_full,omitempty"`
}

// Setting returns a setting's value and whether it is known.
func (s *Snapshot) Setting(name string) (string, bool) {
	for _, st := range s.Settings {
		if st.Name == name {
			return st.Setting, true
		}
	}
	return "", false
}

// Extension returns an installed extension, or nil.
func (s *Snapshot) Extension(name string) *Extension {
	for i := range s.Extensions {
		if s.Extensions[i].Name == name {
			return &s.Extensions[i]
		}
	}
	return nil
}

// Gap records something that could not be collected.
func (s *Snapshot) AddGap(what, reason string) {
	s.Gaps = append(s.Gaps, Gap{What: what, Reason: reason})
}

// Blocker is something holding back the oldest transaction ID VACUUM may clean up to: a
// long-running or idle-in-transaction session, a forgotten prepared transaction, or a
// replication slot.
type Blocker struct {
	// Kind is "session", "prepared_transaction", "replication_slot" or "replica_feedback" (a
	// replica's hot_standby_feedback, held by its walsender).
	Kind string `json:"kind"`
	// Name identifies it: a pid and user, a prepared transaction's gid, a slot's name.
	Name string `json:"name"`
	// XIDAge is how many transactions old the xmin it holds is.
	XIDAge int64 `json:"xid_age"`
	// Detail says what it is doing (state and query, owner, slot type).
	Detail string `json:"detail"`
	// Since is when it started (a transaction's start, a prepared transaction's PREPARE).
	Since *time.Time `json:"since,omitempty"`
}
