package migrations

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/indexes"
)

// Planned reads what a directory already does with the parser, as 'migrate up' reads the
// directory: files pgtune wrote (an index, a trigram index with its extension, a drop), a
// foreign migration, and names a regular expression got wrong (quoted, mixed case, schema
// qualified, in a comment).
func TestDirPlanned(t *testing.T) {
	dir := t.TempDir()
	ix := &indexes.Candidate{Table: "public.t", Method: "btree", Keys: []dbstate.IndexKey{{Column: "a"}}, Name: "t_a_idx"}
	trgm := &indexes.Candidate{Table: "public.t", Method: "gin", Keys: []dbstate.IndexKey{{Column: "b", Opclass: "gin_trgm_ops"}}, Name: "t_b_trgm_idx", Needs: "pg_trgm"}
	migs := indexes.Migrations([]*indexes.Proposal{{Candidate: ix}, {Candidate: trgm}}, nil, nil, 0, map[string]bool{}, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if _, err := indexes.Write(dir, migs); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"000041_add_column.up.sql":   "ALTER TABLE t ADD COLUMN z int;",
		"000041_add_column.down.sql": "ALTER TABLE t DROP COLUMN z;",
		"000042_by_hand.up.sql": `-- CREATE INDEX not_this ON t (a);
CREATE INDEX CONCURRENTLY IF NOT EXISTS "Mixed_Case" ON public.t (z);`,
		"000042_by_hand.down.sql":  `DROP INDEX CONCURRENTLY IF EXISTS public."Mixed_Case";`,
		"000043_drop_old.up.sql":   "DROP INDEX CONCURRENTLY IF EXISTS app.t_old;",
		"000043_drop_old.down.sql": "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_old ON app.t (a);",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := ReadDir(dir)
	if err != nil || len(d.Problems) > 0 {
		t.Fatalf("%v %v", d, err)
	}
	last, names, creates, err := d.Planned()
	if err != nil {
		t.Fatal(err)
	}
	if last != 43 {
		t.Errorf("last = %d, want 43", last)
	}
	for _, want := range []string{"t_a_idx", "t_b_trgm_idx", "extension pg_trgm", "Mixed_Case", "t_old"} {
		if !names[want] {
			t.Errorf("%q not among the planned names %v", want, names)
		}
	}
	if names["not_this"] || names["mixed_case"] {
		t.Errorf("a commented-out or case-folded name was read: %v", names)
	}
	var made []string
	for _, ix := range creates {
		made = append(made, ix.Name)
	}
	slices.Sort(made)
	if !slices.Equal(made, []string{"Mixed_Case", "t_a_idx", "t_b_trgm_idx"}) {
		t.Errorf("indexes created: %v", made)
	}
	var none *Dir
	if last, names, creates, err := none.Planned(); last != 0 || len(names) != 0 || creates != nil || err != nil {
		t.Errorf("no directory: %d %v %v %v", last, names, creates, err)
	}
}
