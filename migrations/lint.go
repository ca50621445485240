package migrations

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/workload"
)

// File is a migration file to lint, already split into statements.
type File struct {
	Path       string
	Statements []workload.MigrationStatement
	// Up is false for a .down.sql file.
	Up bool
}

// volatile are functions PostgreSQL refuses in an index (it demands IMMUTABLE), or that make a
// predicate's meaning drift: now() frozen at build time is a classic partial-index bug.
var volatile = []string{
	"now", "current_date", "current_time", "current_timestamp", "localtime", "localtimestamp",
	"clock_timestamp", "statement_timestamp", "transaction_timestamp", "timeofday", "random",
	"gen_random_uuid", "uuid_generate_v4", "nextval", "currval", "txid_current", "age",
	"current_user", "session_user", "current_schema",
}

// Lint checks index migrations the way a pull request should be checked before they reach a live
// database. cat, when not nil, is the target's catalog: then references to tables or columns that
// do not exist, and indexes that duplicate existing ones, are found too. Errors are high
// severity, warnings low.
func Lint(files []File, cat *dbstate.Catalog) []finding.Finding {
	var out []finding.Finding
	created := map[string]bool{}      // tables the migrations themselves create
	createdIndex := map[string]bool{} // indexes they create ("schema.name")
	partitioned := map[string]bool{}  // partitioned tables, and indexes on them
	for _, f := range files {
		for _, st := range f.Statements {
			if st.Kind == "create_table" {
				created[st.Table] = true
				partitioned[st.Table] = partitioned[st.Table] || st.Partitioned
			}
			if st.Kind == "create_index" && st.Index != nil {
				createdIndex[st.Index.Key()] = true
				if st.Only {
					partitioned[st.Index.TableKey()] = true
					partitioned[st.Index.Key()] = true
				}
			}
		}
	}
	if cat != nil {
		for _, t := range cat.Snapshot().Tables {
			if t.Kind == "partitioned" && !created[t.Key()] {
				partitioned[t.Key()] = true
			}
		}
		for _, ix := range cat.Snapshot().Indexes {
			if ix.Partitioned {
				partitioned[ix.Key()] = true
			}
		}
	}
	type seenIndex struct {
		path string
		ix   *dbstate.Index
	}
	var built []seenIndex
	for _, f := range files {
		concurrent := false
		for _, st := range f.Statements {
			concurrent = concurrent || st.Concurrent || st.Kind == "vacuum"
		}
		if concurrent && len(f.Statements) > 1 {
			out = append(out, lintFinding(f, f.Statements[0], "lint.concurrently_not_alone", finding.SeverityHigh,
				"CREATE/DROP INDEX CONCURRENTLY (or VACUUM) shares the file with other statements",
				"golang-migrate sends a file as one string, which PostgreSQL runs as one transaction; CONCURRENTLY (and VACUUM) "+
					"cannot run in a transaction, so the migration fails and leaves the version dirty.",
				"", "put the statement in a migration file of its own"))
		}
		for _, st := range f.Statements {
			switch st.Kind {
			case "create_index":
				ix := st.Index
				if ix == nil {
					continue
				}
				table := ix.TableKey()
				existing := !created[table] && (cat == nil || cat.Table(table) != nil)
				switch {
				case partitioned[table] && st.Concurrent:
					out = append(out, lintFinding(f, st, "lint.concurrently_on_partitioned", finding.SeverityHigh,
						fmt.Sprintf("CREATE INDEX CONCURRENTLY %s on the partitioned table %s: PostgreSQL refuses it", ix.Name, table),
						"PostgreSQL cannot build an index on a partitioned table CONCURRENTLY: the migration fails on every run and "+
							"blocks every later one. Build it online in steps: CREATE INDEX ... ON ONLY the parent (no build), CREATE INDEX "+
							"CONCURRENTLY on each partition (a migration each), then ALTER INDEX parent_index ATTACH PARTITION each "+
							"partition's index ('pgtune indexes generate' writes these steps).",
						"", "create it ON ONLY the parent, build each partition's index CONCURRENTLY, and attach them"))
				case partitioned[table] && !st.Only && existing:
					out = append(out, lintFinding(f, st, "lint.index_not_concurrent", finding.SeverityHigh,
						fmt.Sprintf("CREATE INDEX %s on the partitioned table %s builds every partition's index with writes locked out", ix.Name, table),
						"A plain CREATE INDEX on a partitioned table holds a SHARE lock on each partition while it builds; and CONCURRENTLY "+
							"is refused on a partitioned table.",
						"", "create it ON ONLY the parent, build each partition's index CONCURRENTLY, and attach them"))
				case partitioned[table]:
					// ON ONLY the parent: a catalog entry, no build.
				case !st.Concurrent && existing:
					out = append(out, lintFinding(f, st, "lint.index_not_concurrent", finding.SeverityHigh,
						fmt.Sprintf("CREATE INDEX %s without CONCURRENTLY locks %s against writes while it builds", ix.Name, table),
						"A plain CREATE INDEX holds a SHARE lock on the table for the whole build: every INSERT, UPDATE and DELETE waits.",
						concurrently(st.Text), ""))
				}
				if !st.IfExists {
					out = append(out, lintFinding(f, st, "lint.missing_if_not_exists", finding.SeverityLow,
						fmt.Sprintf("CREATE INDEX %s without IF NOT EXISTS", ix.Name),
						"A migration retried after a partial failure should not fail on an index that is already there. "+
							"(IF NOT EXISTS checks only the name: pgtune migrate also drops an INVALID leftover first.)", "", "add IF NOT EXISTS"))
				}
				// The parser already cut the name to 63 bytes, as the server will: measure the text.
				if name := writtenName(st.Text); len(name) > 63 {
					out = append(out, lintFinding(f, st, "lint.name_too_long", finding.SeverityHigh,
						fmt.Sprintf("index name %s is %d bytes; PostgreSQL cuts names at 63", name, len(name)),
						"The cut name can collide with another index's, and IF NOT EXISTS then skips the wrong one.", "", "use a name of at most 63 bytes"))
				}
				var bad []string
				for _, fn := range st.Functions {
					if slices.Contains(volatile, fn) && !slices.Contains(bad, fn) {
						bad = append(bad, fn)
					}
				}
				if len(bad) > 0 {
					out = append(out, lintFinding(f, st, "lint.not_immutable", finding.SeverityHigh,
						fmt.Sprintf("index %s uses %s, which is not immutable", ix.Name, strings.Join(bad, ", ")),
						"PostgreSQL accepts only IMMUTABLE functions in index expressions and predicates (the build fails); and a "+
							"predicate on now() would be frozen at build time anyway.", "", "index a stored column, or a constant boundary"))
				}
				if cat != nil && !created[table] {
					out = append(out, checkAgainstCatalog(f, st, ix, cat)...)
				}
				for _, prev := range built {
					if sameIndex(prev.ix, ix) {
						out = append(out, lintFinding(f, st, "lint.duplicate_index", finding.SeverityHigh,
							fmt.Sprintf("index %s duplicates %s, created in %s", ix.Name, prev.ix.Name, prev.path),
							"Two identical indexes cost double on every write and serve nothing more.", "", "drop one of the two migrations"))
					}
				}
				if f.Up {
					built = append(built, seenIndex{f.Path, ix})
				}
			case "drop_index":
				allPartitioned := len(st.Drops) > 0
				for _, d := range st.Drops {
					allPartitioned = allPartitioned && partitioned[d]
				}
				if st.Concurrent && allPartitioned {
					out = append(out, lintFinding(f, st, "lint.concurrently_on_partitioned", finding.SeverityHigh,
						"DROP INDEX CONCURRENTLY "+strings.Join(st.Drops, ", ")+": an index of a partitioned table cannot be dropped concurrently",
						"PostgreSQL refuses it: the migration fails on every run.", "", "drop it without CONCURRENTLY (quick: its partitions' indexes go with it)"))
				}
				if !st.Concurrent && !allPartitioned {
					out = append(out, lintFinding(f, st, "lint.index_not_concurrent", finding.SeverityHigh,
						"DROP INDEX "+strings.Join(st.Drops, ", ")+" without CONCURRENTLY locks the table",
						"A plain DROP INDEX takes an ACCESS EXCLUSIVE lock on the table: even reads wait behind it.",
						concurrently(st.Text), ""))
				}
				if !st.IfExists {
					out = append(out, lintFinding(f, st, "lint.missing_if_exists", finding.SeverityLow,
						"DROP INDEX "+strings.Join(st.Drops, ", ")+" without IF EXISTS",
						"A migration retried after a partial failure should not fail on an index that is already gone.", "", "add IF EXISTS"))
				}
				if cat != nil {
					for _, d := range st.Drops {
						if !indexExists(cat, d) && !createdIndex[d] {
							out = append(out, lintFinding(f, st, "lint.unknown_object", finding.SeverityLow,
								"DROP INDEX "+d+": the database has no such index", "It may have been dropped already, or the name is wrong.", "", "check the name"))
						}
					}
				}
			case "reindex":
				if !st.Concurrent {
					out = append(out, lintFinding(f, st, "lint.index_not_concurrent", finding.SeverityHigh,
						"REINDEX without CONCURRENTLY locks the table", "A plain REINDEX blocks writes (and reads through the index) for the whole rebuild.",
						"", "use REINDEX (CONCURRENTLY) in a migration file of its own"))
				}
			}
		}
	}
	return out
}

var indexNameWritten = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|[^\s(]+)`)

// writtenName is the index name as the statement writes it (unquoted), before any cut.
func writtenName(text string) string {
	m := indexNameWritten.FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	name := m[1]
	if strings.HasPrefix(name, `"`) {
		return strings.ReplaceAll(name[1:len(name)-1], `""`, `"`)
	}
	return strings.ToLower(name)
}

func lintFinding(f File, st workload.MigrationStatement, rule string, sev finding.Severity, title, detail, sql, action string) finding.Finding {
	return finding.Finding{Rule: rule, Kind: finding.KindIndex, Severity: sev, Title: fmt.Sprintf("%s:%d: %s", f.Path, st.Line, title),
		Detail: detail, Evidence: finding.Facts("file", f.Path, "line", st.Line, "statement", oneLine(st.Text)), SQL: sql, Action: action}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// concurrently rewrites a CREATE/DROP INDEX statement to its CONCURRENTLY form.
func concurrently(text string) string {
	t := strings.TrimSuffix(oneLine(text), ";")
	up := strings.ToUpper(t)
	for _, p := range []string{"CREATE UNIQUE INDEX ", "CREATE INDEX ", "DROP INDEX "} {
		if strings.HasPrefix(up, p) {
			return t[:len(p)] + "CONCURRENTLY " + t[len(p):] + ";"
		}
	}
	return ""
}

func checkAgainstCatalog(f File, st workload.MigrationStatement, ix *dbstate.Index, cat *dbstate.Catalog) []finding.Finding {
	t := cat.Table(ix.TableKey())
	if t == nil {
		return []finding.Finding{lintFinding(f, st, "lint.unknown_object", finding.SeverityHigh,
			fmt.Sprintf("index %s is on table %s, which the database does not have", ix.Name, ix.TableKey()),
			"The migration would fail (or the table is in another schema than the file says).", "", "check the table's name and schema")}
	}
	var out []finding.Finding
	var cols []string
	for _, k := range ix.Keys {
		if k.Column != "" {
			cols = append(cols, k.Column)
		}
	}
	cols = append(cols, ix.Include...)
	for _, c := range cols {
		if t.Column(c) == nil {
			out = append(out, lintFinding(f, st, "lint.unknown_object", finding.SeverityHigh,
				fmt.Sprintf("index %s names column %s, which %s does not have", ix.Name, c, t.Key()),
				"The migration would fail.", "", "check the column's name"))
		}
	}
	for _, existing := range cat.Indexes(t.Key()) {
		if existing.Name == ix.Name {
			continue // IF NOT EXISTS makes that a no-op; the same name is not a duplicate
		}
		if sameIndex(existing, ix) {
			out = append(out, lintFinding(f, st, "lint.duplicate_index", finding.SeverityHigh,
				fmt.Sprintf("index %s duplicates the existing %s", ix.Name, existing.Name),
				"Two identical indexes cost double on every write and serve nothing more.", "", "drop the migration, or the existing index"))
		}
	}
	return out
}

// sameIndex compares what two indexes do (method, keys, INCLUDE, predicate), not their names.
func sameIndex(a, b *dbstate.Index) bool {
	if a.TableKey() != b.TableKey() || a.Method != b.Method || !slices.Equal(a.Include, b.Include) || len(a.Keys) != len(b.Keys) {
		return false
	}
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("(", "", ")", "", " ", "", "::text", "").Replace(s))
	}
	if norm(a.Predicate) != norm(b.Predicate) {
		return false
	}
	for i := range a.Keys {
		ka, kb := a.Keys[i], b.Keys[i]
		if ka.Column != kb.Column || norm(ka.Expr) != norm(kb.Expr) || ka.Desc != kb.Desc || ka.Opclass != kb.Opclass {
			return false
		}
	}
	return true
}

func indexExists(cat *dbstate.Catalog, key string) bool {
	schema, name, _ := strings.Cut(key, ".")
	for _, ix := range cat.Snapshot().Indexes {
		if ix.Schema == schema && ix.Name == name {
			return true
		}
	}
	return false
}
