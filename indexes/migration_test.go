package indexes

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bookedbarber/pgtune/dbstate"
)

func proposal(table string, keys ...string) *Proposal {
	c := &Candidate{Table: table, Method: "btree", Why: []string{"equality on " + keys[0]}}
	for _, k := range keys {
		c.Keys = append(c.Keys, dbstate.IndexKey{Column: k})
	}
	c.Name = nameFor(table, c)
	return &Proposal{Candidate: c, SizeBytes: 1 << 20, Share: 0.25, Effects: []Effect{{Fingerprint: "abc", Query: "SELECT 1 FROM t\nWHERE a = $1", Calls: 10, Before: 100, After: 2}}}
}

var day = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func TestMigrationsAreOneStatementEach(t *testing.T) {
	drop := Drop{Index: &dbstate.Index{Schema: "public", Table: "t", Name: "t_old", Definition: "CREATE INDEX t_old ON public.t USING btree (a)"}, Reason: "Drops t_old."}
	ms := Migrations([]*Proposal{proposal("public.t", "a", "b"), proposal("public.u", "c")}, []Drop{drop}, nil, 7, map[string]bool{}, day)
	if len(ms) != 3 || ms[0].Version != 8 || ms[2].Version != 10 {
		t.Fatalf("%+v", ms)
	}
	statement := regexp.MustCompile(`(?m)^[^-\n].*;$`)
	for _, m := range ms {
		for _, body := range []string{m.Up, m.Down} {
			if n := len(statement.FindAllString(body, -1)); n != 1 {
				t.Errorf("%s: %d statements in\n%s", m.Name, n, body)
			}
			if strings.Contains(strings.ToUpper(body), "BEGIN") {
				t.Errorf("%s opens a transaction", m.Name)
			}
		}
	}
	if !strings.Contains(ms[0].Up, "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_a_b_idx ON public.t (a, b);") ||
		!strings.Contains(ms[0].Up, "Saves 25.0%") || !strings.Contains(ms[0].Up, "Statement abc (10 calls): cost 100.0 -> 2.0: SELECT 1 FROM t WHERE a = $1") {
		t.Errorf("create:\n%s", ms[0].Up)
	}
	if !strings.Contains(ms[0].Down, "DROP INDEX CONCURRENTLY IF EXISTS public.t_a_b_idx;") {
		t.Errorf("down:\n%s", ms[0].Down)
	}
	if !strings.Contains(ms[2].Up, "DROP INDEX CONCURRENTLY IF EXISTS public.t_old;") ||
		!strings.Contains(ms[2].Down, "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_old ON public.t USING btree (a);") {
		t.Errorf("drop:\n%s\n%s", ms[2].Up, ms[2].Down)
	}
	if up, down := ms[0].Files(); up != "000008_create_t_a_b_idx.up.sql" || down != "000008_create_t_a_b_idx.down.sql" {
		t.Errorf("files %s %s", up, down)
	}
}

func TestWriteNeverOverwritesAndGeneratingTwiceAddsNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "migrations")
	props := []*Proposal{proposal("public.t", "a")}
	// What the directory already plans is read by migrations.Dir.Planned (tested there); here
	// its answers are given.
	files, err := Write(dir, Migrations(props, nil, nil, 0, map[string]bool{}, day))
	if err != nil || len(files) != 2 {
		t.Fatalf("%v %v", files, err)
	}
	// A foreign migration raises the numbering; the index already handled is skipped.
	last, known := 41, map[string]bool{"t_a_idx": true}
	more := append(props, proposal("public.t", "b"))
	ms := Migrations(more, nil, nil, last, known, day)
	if len(ms) != 1 || ms[0].Version != 42 || ms[0].Name != "create_t_b_idx" {
		t.Fatalf("second run: %+v", ms)
	}
	// A clash with an existing file fails, and leaves nothing of this run behind.
	clash := []Migration{{Version: 50, Name: "x", Up: "SELECT 1;", Down: "SELECT 1;"}, {Version: 1, Name: "create_t_a_idx", Up: "x", Down: "y"}}
	if _, err := Write(dir, clash); err == nil || !strings.Contains(err.Error(), "never overwrites") {
		t.Errorf("clash: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "000050_x.up.sql")); !os.IsNotExist(err) {
		t.Error("a failed write left a file behind")
	}
}

// Names from the catalog never leave the directory, never split a character at 63 bytes, and
// never break out of a comment.
func TestHostileNamesStayInTheDirectory(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "migrations")
	evil := proposal("public.t", "../../../tmp/pwn", strings.Repeat("ü", 40))
	evil.Candidate.Why = []string{"equality on x\nDROP TABLE t; --"}
	drop := Drop{Index: &dbstate.Index{Schema: "public", Table: "t", Name: "../../escape", Definition: "CREATE INDEX x ON public.t USING btree (a)"}, Reason: "unused"}
	files, err := Write(dir, Migrations([]*Proposal{evil}, []Drop{drop}, nil, 0, map[string]bool{}, day))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if filepath.Dir(f) != dir {
			t.Errorf("%s is outside %s", f, dir)
		}
		body, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "DROP TABLE") {
				t.Errorf("%s: a name broke out of its comment: %q", f, line)
			}
		}
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Errorf("the parent holds %d entries, want only migrations/", len(entries))
	}
	name := evil.Candidate.Name
	if len(name) > 63 || !utf8.ValidString(name) {
		t.Errorf("index name %q: %d bytes", name, len(name))
	}
}
