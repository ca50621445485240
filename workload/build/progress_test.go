package build

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
)

// Workload reports the parse's progress (a 60 MB export takes half a minute): from one
// goroutine, counts that only grow, of the distinct texts, and nothing after it returns.
func TestWorkloadReportsProgress(t *testing.T) {
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = time.Millisecond
	stmts := &dbstate.Statements{}
	for i := range 3000 {
		q := fmt.Sprintf("SELECT id FROM t WHERE status = $1 AND c%d = $2 ORDER BY id LIMIT $3", i)
		stmts.Rows = append(stmts.Rows, dbstate.StatementRow{QueryID: dbstate.QueryID(i + 1), Query: q, Calls: 10}, dbstate.StatementRow{QueryID: dbstate.QueryID(i + 5000), Query: q, Calls: 1})
	}
	snap, err := SnapshotFromDump("CREATE TABLE t (id int, status text);", stmts, time.Now(), "test")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var calls [][2]int
	returned := false
	w := Workload(snap, dbstate.NewCatalog(snap), func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if returned {
			t.Error("progress after Workload returned")
		}
		calls = append(calls, [2]int{done, total})
	})
	mu.Lock()
	returned = true
	mu.Unlock()
	if len(w.Statements) != 3000 {
		t.Fatalf("%d statements, want 3000", len(w.Statements))
	}
	if len(calls) == 0 {
		t.Fatal("no progress reported while 3,000 texts were parsed")
	}
	for i, c := range calls {
		if c[1] != 3000 || c[0] > c[1] || (i > 0 && c[0] < calls[i-1][0]) {
			t.Fatalf("progress %d: %d of %d (after %v)", i, c[0], c[1], calls[max(i-1, 0)])
		}
	}
}
