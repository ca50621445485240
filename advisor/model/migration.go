package model

// MigrationStatement is one statement of a migration file, as a linter needs to see it.
type MigrationStatement struct {
	// Line is the 1-based line the statement starts on.
	Line int
	// Kind is "create_index", "drop_index", "reindex", "create_table", "vacuum" or "other".
	Kind string
	// Concurrent is set for CREATE/DROP/REINDEX ... CONCURRENTLY.
	Concurrent bool
	// IfExists is IF NOT EXISTS on CREATE INDEX, IF EXISTS on DROP INDEX.
	IfExists bool
	// Index is what CREATE INDEX builds (table "schema.name" with public for an unqualified name);
	// Drops names what DROP INDEX removes.
	Index *Index
	Drops []string
	// Table is the table CREATE TABLE creates.
	Table string
	// Functions are the functions the index's expressions and predicate call (lower-cased, without
	// schema); SQLValueFunctions such as CURRENT_DATE count as functions.
	Functions []string
	// Text is the statement's text.
	Text string
}
