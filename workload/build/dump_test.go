package build

import (
	"strings"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
)

// A pg_stat_statements export keeps utility statements as written: SnapshotFromDump redacts them before
// anything is kept, and leaves the data statements' text alone.
func TestSnapshotFromDumpRedactsSecrets(t *testing.T) {
	stmts := &dbstate.Statements{Rows: []dbstate.StatementRow{
		{QueryID: 1, Query: "ALTER ROLE app PASSWORD 'S3cret'", Calls: 1},
		{QueryID: 2, Query: "SELECT id FROM t WHERE status = 'open'", Calls: 1},
	}}
	snap, err := SnapshotFromDump("CREATE TABLE t (id int, status text);", stmts, time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	got := snap.Statements.Rows
	if strings.Contains(got[0].Query, "S3cret") || !strings.Contains(got[0].Query, "'<redacted>'") {
		t.Errorf("the password survived: %q", got[0].Query)
	}
	if got[1].Query != "SELECT id FROM t WHERE status = 'open'" {
		t.Errorf("a data statement was changed: %q", got[1].Query)
	}
}
