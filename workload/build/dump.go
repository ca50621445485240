package build

import (
	"fmt"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/query"
)

// SnapshotFromDump builds a snapshot from a schema file (pg_dump --schema-only, or any DDL) and a
// pg_stat_statements export, for a DBA who can hand over files but not a connection. Such a
// snapshot has no statistics: findings that need them (unused indexes, stale statistics) are
// missing, and its Gaps say so.
func SnapshotFromDump(schemaSQL string, statements *dbstate.Statements, takenAt time.Time, version string) (*dbstate.Snapshot, error) {
	// An export holds utility statements as written, secrets and all: redacted before anything else.
	if statements != nil {
		for i := range statements.Rows {
			statements.Rows[i].Query, _ = query.Redact(statements.Rows[i].Query)
		}
	}
	s, err := query.ParseSchema(schemaSQL)
	if err != nil {
		return nil, fmt.Errorf("the schema file does not parse at %w; pass the output of pg_dump --schema-only", err)
	}
	if len(s.Tables) == 0 {
		return nil, fmt.Errorf("the schema file creates no tables; pass the output of pg_dump --schema-only")
	}
	snap := &dbstate.Snapshot{
		Format: dbstate.SnapshotFormat, Version: dbstate.SnapshotVersion, Source: "dump",
		TakenAt: takenAt.UTC().Truncate(time.Millisecond), PgtuneVersion: version,
		Tables: s.Tables, Indexes: s.Indexes, Constraints: s.Constraints, Triggers: s.Triggers, Extensions: s.Extensions, Views: s.Views,
		Statements: *statements,
	}
	if snap.Statements.Max == 0 && snap.Statements.Dealloc == 0 {
		snap.Statements.Dealloc = -1
	}
	snap.AddGap("statistics", "a schema file and a statements export carry no table, index or column statistics: "+
		"unused-index, stale-statistics and size-based findings need a live run or 'pgtune snapshot'")
	return snap, nil
}
