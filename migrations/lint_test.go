package migrations

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/query"
)

const lintSchema = `
CREATE TABLE t (id bigint PRIMARY KEY, x int, y int, created_at timestamptz, status text);
CREATE INDEX t_x ON t (x);`

func parse(t *testing.T, path, sql string) File {
	t.Helper()
	stmts, err := query.ParseMigration(sql)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return File{Path: path, Statements: stmts, Up: !strings.HasSuffix(path, ".down.sql")}
}

func lintRules(t *testing.T, withSchema bool, files ...File) []string {
	t.Helper()
	var cat *dbstate.Catalog
	if withSchema {
		s, err := query.ParseSchema(lintSchema)
		if err != nil {
			t.Fatal(err)
		}
		cat = dbstate.NewCatalog(&dbstate.Snapshot{Tables: s.Tables, Indexes: s.Indexes})
	}
	var out []string
	for _, f := range Lint(files, cat) {
		out = append(out, f.Rule+"/"+f.Severity.String())
	}
	return out
}

// Each rule fires on a planted file and stays quiet on its clean twin.
func TestLintRules(t *testing.T) {
	cases := []struct {
		name, sql  string
		withSchema bool
		want       []string
	}{
		{"clean", "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_y ON t (y);", true, nil},
		{"mixed", "CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (y);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS b ON t (created_at);", false,
			[]string{"lint.concurrently_not_alone/high"}},
		{"vacuum mixed", "ALTER TABLE t ADD COLUMN z int;\nVACUUM t;", false, []string{"lint.concurrently_not_alone/high"}},
		{"not concurrent", "CREATE INDEX IF NOT EXISTS i ON t (y);", false, []string{"lint.index_not_concurrent/high"}},
		{"new table needs no CONCURRENTLY", "CREATE TABLE u (a int);\nCREATE INDEX IF NOT EXISTS u_a ON u (a);", false, nil},
		{"no IF NOT EXISTS", "CREATE INDEX CONCURRENTLY i ON t (y);", false, []string{"lint.missing_if_not_exists/low"}},
		{"long name", "CREATE INDEX CONCURRENTLY IF NOT EXISTS " + strings.Repeat("n", 64) + " ON t (y);", false, []string{"lint.name_too_long/high"}},
		{"now() in predicate", "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (created_at) WHERE created_at > now() - interval '1 day';", false,
			[]string{"lint.not_immutable/high"}},
		{"CURRENT_DATE in expression", "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t ((created_at::date - CURRENT_DATE));", false,
			[]string{"lint.not_immutable/high"}},
		{"drop", "DROP INDEX t_x;", false, []string{"lint.index_not_concurrent/high", "lint.missing_if_exists/low"}},
		{"clean drop", "DROP INDEX CONCURRENTLY IF EXISTS t_x;", true, nil},
		{"reindex", "REINDEX INDEX t_x;", false, []string{"lint.index_not_concurrent/high"}},
		{"unknown table", "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON nope (y);", true, []string{"lint.unknown_object/high"}},
		{"unknown column", "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (nope);", true, []string{"lint.unknown_object/high"}},
		{"duplicate of an existing index", "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_x_again ON t (x);", true, []string{"lint.duplicate_index/high"}},
		{"dropping what is not there", "DROP INDEX CONCURRENTLY IF EXISTS gone;", true, []string{"lint.unknown_object/low"}},
	}
	for _, c := range cases {
		got := lintRules(t, c.withSchema, parse(t, "000001_"+strings.ReplaceAll(c.name, " ", "_")+".up.sql", c.sql))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// Two files creating the same index.
	got := lintRules(t, false, parse(t, "000001_a.up.sql", "CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (y);"),
		parse(t, "000002_b.up.sql", "CREATE INDEX CONCURRENTLY IF NOT EXISTS b ON t (y);"))
	if !slices.Equal(got, []string{"lint.duplicate_index/high"}) {
		t.Errorf("two files: %q", got)
	}
}

// The migrations pgtune generates pass its own linter.
func TestGeneratedMigrationsPassLint(t *testing.T) {
	c := &indexes.Candidate{Table: "public.t", Method: "btree", Keys: []dbstate.IndexKey{{Column: "y"}, {Column: "created_at", Desc: true, NullsFirst: true}},
		Where: "status = 'open'", Name: "t_y_created_at_desc_open_idx", Why: []string{"test"}}
	drop := indexes.Drop{Index: &dbstate.Index{Schema: "public", Table: "t", Name: "t_x", Definition: "CREATE INDEX t_x ON public.t USING btree (x)"}, Reason: "test"}
	var files []File
	for _, m := range indexes.Migrations([]*indexes.Proposal{{Candidate: c}}, []indexes.Drop{drop}, nil, 0, map[string]bool{}, time.Now()) {
		up, down := m.Files()
		files = append(files, parse(t, up, m.Up), parse(t, down, m.Down))
	}
	if got := lintRules(t, true, files...); len(got) != 0 {
		t.Errorf("generated migrations drew %q", got)
	}
}

// FuzzLint feeds pull-request files through the parser and every rule, with and without a
// catalog: nothing panics, every finding names a lint rule, its file and a line of that file.
func FuzzLint(f *testing.F) {
	for _, seed := range []string{
		"CREATE INDEX CONCURRENTLY IF NOT EXISTS t_y ON t (y);",
		"CREATE INDEX i ON t (lower(status)) INCLUDE (x) WHERE created_at > now();",
		"DROP INDEX public.t_x, t_y;\nREINDEX INDEX CONCURRENTLY t_x;",
		"CREATE TABLE u (a int);\nCREATE UNIQUE INDEX ON u (a);\nVACUUM u;",
		"-- comment only\n",
		"CREATE INDEX CONCURRENTLY IF NOT EXISTS \"Odd \"\"name\" ON \"T\" USING gin (x gin_trgm_ops);",
	} {
		f.Add(seed)
	}
	s, err := query.ParseSchema(lintSchema)
	if err != nil {
		f.Fatal(err)
	}
	cat := dbstate.NewCatalog(&dbstate.Snapshot{Tables: s.Tables, Indexes: s.Indexes})
	f.Fuzz(func(t *testing.T, sql string) {
		stmts, err := query.ParseMigration(sql)
		if err != nil {
			return
		}
		lines := strings.Count(sql, "\n") + 1
		file := File{Path: "000001_x.up.sql", Statements: stmts, Up: true}
		for _, c := range []*dbstate.Catalog{nil, cat} {
			for _, fd := range Lint([]File{file}, c) {
				if !strings.HasPrefix(fd.Rule, "lint.") || !strings.HasPrefix(fd.Title, file.Path+":") {
					t.Fatalf("finding without rule, title or file: %+v", fd)
				}
			}
		}
		for _, st := range stmts {
			if st.Line < 1 || st.Line > lines || !strings.Contains(sql, st.Text) {
				t.Fatalf("statement at line %d of %d, text %q not in the input", st.Line, lines, st.Text)
			}
		}
	})
}
