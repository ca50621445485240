package workload

import "github.com/bookedbarber/pgtune/dbstate"

// MigrationStatement is one statement of a migration file, as a linter needs to see it.
type MigrationStatement struct {
	// Line is the 1-based line the statement starts on.
	Line int
	// Kind is "create_index", "drop_index", "attach_index" (ALTER INDEX ... ATTACH PARTITION),
	// "reindex", "create_table", "create_extension", "vacuum" or "other".
	Kind string
	// Concurrent is set for CREATE/DROP/REINDEX ... CONCURRENTLY.
	Concurrent bool
	// IfExists is IF NOT EXISTS on CREATE INDEX, IF EXISTS on DROP INDEX.
	IfExists bool
	// Index is what CREATE INDEX builds (table "schema.name" with public for an unqualified name);
	// Drops names what DROP INDEX removes.
	Index *dbstate.Index
	Drops []string
	// Only is CREATE INDEX ... ON ONLY: on a partitioned table, the parent's index alone (no build;
	// it stays invalid until an index of every partition is attached).
	Only bool
	// Unqualified: the statement names its table without a schema, so the session's search_path
	// decides which table (and the index's schema) it is; Index.Schema then says public.
	Unqualified bool
	// Unnamed: CREATE INDEX without a name (the server chooses one); Index.Name is then a guess.
	Unnamed bool
	// Attach is what ALTER INDEX parent ATTACH PARTITION child names: {parent, child}, each
	// "schema.name" (public for an unqualified name).
	Attach [2]string
	// Table is the table CREATE TABLE creates; Partitioned is set when it is PARTITION BY.
	Table       string
	Partitioned bool
	// Functions are the functions the index's expressions and predicate call (lower-cased, without
	// schema); SQLValueFunctions such as CURRENT_DATE count as functions.
	Functions []string
	// Extension is what CREATE EXTENSION creates.
	Extension string
	// Text is the statement's text.
	Text string
}
