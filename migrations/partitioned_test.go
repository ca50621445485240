package migrations

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/dbstate/collect"
	"github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/pgtest"
	"github.com/bookedbarber/pgtune/query"
)

// partitionedSetup makes pt, hash-partitioned in three, its third partition partitioned again in
// two (so the tree has a sub-parent), filled with rows, and the migrations 'indexes generate'
// writes for indexes on (a) and (b, a), from the catalog as collected.
func partitionedSetup(t *testing.T, rows int) (*pgtest.DB, *pgx.ConnConfig, string, []indexes.Migration) {
	t.Helper()
	db := pgtest.New(t)
	conn := db.Connect(t)
	ctx := t.Context()
	for _, sql := range []string{
		"CREATE TABLE pt (id bigint PRIMARY KEY, a int, b int) PARTITION BY HASH (id)",
		"CREATE TABLE pt_0 PARTITION OF pt FOR VALUES WITH (MODULUS 3, REMAINDER 0)",
		"CREATE TABLE pt_1 PARTITION OF pt FOR VALUES WITH (MODULUS 3, REMAINDER 1)",
		"CREATE TABLE pt_2 PARTITION OF pt FOR VALUES WITH (MODULUS 3, REMAINDER 2) PARTITION BY HASH (id)",
		"CREATE TABLE pt_2a PARTITION OF pt_2 FOR VALUES WITH (MODULUS 2, REMAINDER 0)",
		"CREATE TABLE pt_2b PARTITION OF pt_2 FOR VALUES WITH (MODULUS 2, REMAINDER 1)",
		"INSERT INTO pt SELECT g, g % 1000, g % 77 FROM generate_series(1, " + itoa(rows) + ") g",
		"ANALYZE pt",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := collect.Collect(ctx, conn, collect.Options{CatalogOnly: true, NoValues: true})
	if err != nil {
		t.Fatal(err)
	}
	var props []*indexes.Proposal
	for _, cols := range [][]string{{"a"}, {"b", "a"}} {
		c := &indexes.Candidate{Table: "public.pt", Method: "btree", Name: "pt_" + strings.Join(cols, "_") + "_idx", Why: []string{"test"}}
		for _, col := range cols {
			c.Keys = append(c.Keys, dbstate.IndexKey{Column: col})
		}
		props = append(props, &indexes.Proposal{Candidate: c})
	}
	migs := indexes.Migrations(props, nil, indexes.PartitionsOf(snap.Tables), 0, map[string]bool{}, time.Now())
	dir := filepath.Join(t.TempDir(), "m")
	if _, err := indexes.Write(dir, migs); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	return db, cfg, dir, migs
}

// treeValid says whether the index and every index attached below it are valid, and how many
// indexes the tree has.
func treeValid(t *testing.T, conn *pgx.Conn, root string) (bool, int) {
	t.Helper()
	var all bool
	var n int
	err := conn.QueryRow(t.Context(), `SELECT coalesce(bool_and(x.indisvalid), false), count(*)
FROM pg_partition_tree($1::regclass) p JOIN pg_index x ON x.indexrelid = p.relid`, root).Scan(&all, &n)
	if err != nil {
		t.Fatal(err)
	}
	return all, n
}

// The migrations for a partitioned table apply on a live database and the parent's index is
// valid at the end; lint (with the catalog) passes them; the old single CONCURRENTLY file fails
// with a message that does not say "run again", and lint flags it.
func TestPartitionedTableMigrations(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db, cfg, dir, migs := partitionedSetup(t, 20000)
		ctx := t.Context()
		// Per index: ON ONLY (parent and sub-parent), one build per leaf (pt_0, pt_1, pt_2a,
		// pt_2b), the attaches.
		if len(migs) != 2*6 {
			t.Fatalf("%d migrations, want 12", len(migs))
		}
		conn := db.Connect(t)
		snap, err := collect.Collect(ctx, conn, collect.Options{CatalogOnly: true, NoValues: true})
		if err != nil {
			t.Fatal(err)
		}
		if f := Lint(lintFiles(t, migs), dbstate.NewCatalog(snap)); len(f) != 0 {
			t.Errorf("lint of the generated steps: %+v", f)
		}
		res, err := Up(ctx, cfg, Options{Dir: dir})
		if err != nil || len(res.Applied) != 12 {
			t.Fatalf("up: %+v %v", res, err)
		}
		for _, root := range []string{"pt_a_idx", "pt_b_a_idx"} {
			if valid, n := treeValid(t, conn, root); !valid || n != 6 {
				t.Errorf("%s: valid %v over %d indexes, want valid over 6 (pt, pt_0, pt_1, pt_2, pt_2a, pt_2b)", root, valid, n)
			}
		}
		// Rolled back all the way, nothing is left and the status is clean.
		if _, err := Down(ctx, cfg, Options{Dir: dir}, 0); err != nil {
			t.Fatalf("down: %v", err)
		}
		var left int
		conn.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname LIKE 'pt%idx' AND relkind IN ('i', 'I')").Scan(&left)
		if left != 0 {
			t.Errorf("%d indexes left after rolling back", left)
		}

		// What pgtune used to write: one CONCURRENTLY build on the parent.
		bad := filepath.Join(t.TempDir(), "bad")
		os.MkdirAll(bad, 0o755)
		os.WriteFile(filepath.Join(bad, "000001_create_pt_a_idx.up.sql"), []byte(GeneratedMark+" on 2026-11-01.\nCREATE INDEX CONCURRENTLY IF NOT EXISTS pt_a_idx ON public.pt (a);\n"), 0o644)
		os.WriteFile(filepath.Join(bad, "000001_create_pt_a_idx.down.sql"), []byte("DROP INDEX CONCURRENTLY IF EXISTS public.pt_a_idx;\n"), 0o644)
		_, err = Up(ctx, cfg, Options{Dir: bad})
		if err == nil || strings.Contains(err.Error(), "run 'pgtune migrate up' again;") || strings.Contains(err.Error(), "run it again") ||
			!strings.Contains(err.Error(), "fails the same way every run") || !strings.Contains(err.Error(), "ON ONLY") {
			t.Errorf("CONCURRENTLY on the parent: %v", err)
		}
		if !Recurs(err) {
			t.Errorf("Recurs(%v) = false", err)
		}
		stmts, _ := query.ParseMigration("CREATE INDEX CONCURRENTLY IF NOT EXISTS pt_a_idx ON public.pt (a);")
		f := Lint([]File{{Path: "bad.up.sql", Statements: stmts, Up: true}}, dbstate.NewCatalog(snap))
		if len(f) != 1 || f[0].Rule != "lint.concurrently_on_partitioned" {
			t.Errorf("lint of CONCURRENTLY on the parent: %+v", f)
		}
	})
}

func lintFiles(t *testing.T, migs []indexes.Migration) []File {
	t.Helper()
	var files []File
	for _, m := range migs {
		up, down := m.Files()
		for _, f := range []struct {
			name, body string
			up         bool
		}{{up, m.Up, true}, {down, m.Down, false}} {
			stmts, err := query.ParseMigration(f.body)
			if err != nil {
				t.Fatalf("%s: %v", f.name, err)
			}
			files = append(files, File{Path: f.name, Statements: stmts, Up: f.up})
		}
	}
	return files
}

// killHelperEnv runs TestKillHelper as a child 'migrate up' that kills itself with SIGKILL a
// moment after it sends migration N's statement.
const killHelperEnv = "PGTUNE_TEST_KILL_HELPER"

// TestKillHelper is the child process of the kill -9 tests; run by itself it does nothing.
func TestKillHelper(t *testing.T) {
	spec := os.Getenv(killHelperEnv)
	if spec == "" {
		return
	}
	parts := strings.Split(spec, "|")
	dsn, dir := parts[0], parts[1]
	n, _ := strconv.Atoi(parts[2])
	delay, _ := time.ParseDuration(parts[3])
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Dir: dir, started: func(m *Migration) {
		if int(m.Version) != n {
			return
		}
		fmt.Println("STARTED", m.Version)
		if delay == 0 { // dirty version recorded, statement not sent
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		go func() {
			time.Sleep(delay)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}()
	}}
	Up(context.Background(), cfg, o)
	time.Sleep(5 * time.Second) // the kill comes first: the steps after n may be quick
	fmt.Println("FINISHED")
}

// runKilled runs 'migrate up' in a child process killed with SIGKILL at migration n, delay after
// its statement was sent (0: just before); it reports whether the kill happened.
func runKilled(t *testing.T, dsn, dir string, n int, delay time.Duration) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+dsn+"|"+dir+"|"+strconv.Itoa(n)+"|"+delay.String())
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		started = started || strings.HasPrefix(sc.Text(), "STARTED")
	}
	err := cmd.Wait()
	if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && st.Signaled() && st.Signal() == syscall.SIGKILL {
		waitLockReleased(t, dsn)
		return true
	}
	if started {
		t.Fatalf("child started migration %d but was not killed: %v", n, err)
	}
	return false
}

// waitLockReleased waits for the server to end the killed runner's control session, and with it
// pgtune's migration lock: the backend learns of the closed socket a moment after the kill, and a
// run started within that moment rightly reports the lock as held (CI saw it once on 15).
func waitLockReleased(t *testing.T, dsn string) {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	key := LockKey(conn.Config().Database)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		if ok {
			if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
				t.Fatal(err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed runner's migration lock is still held after 30 s")
		}
	}
}

// kill -9 at every step of a partitioned table's migrations (the ON ONLY entries, each
// partition's build, the attaches), each time followed by a plain rerun: the run resumes and ends
// with every index valid, the version at the last migration and no invalid leftover. At each step
// the run dies twice: with the version marked dirty and the statement not sent, and 30 ms after
// sending it (during a build of a partition of 60,000 rows, or around a quick catalog step's
// commit); a build the dead client left running is waited for (--wait).
func TestPartitionedMigrationsResumeAfterKill(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db, cfg, dir, migs := partitionedSetup(t, 240000)
		ctx := t.Context()
		conn := db.Connect(t)
		for k := 0; k < 2*len(migs); k++ {
			n, delay := k/2+1, time.Duration(k%2)*30*time.Millisecond
			// Back to nothing applied, then a run that dies at migration n.
			if _, err := Down(ctx, cfg, Options{Dir: dir, Wait: time.Minute}, 0); err != nil {
				t.Fatalf("down before step %d: %v", n, err)
			}
			if !runKilled(t, db.DSN, dir, n, delay) {
				t.Fatalf("step %d: the run was not killed", n)
			}
			res, err := Up(ctx, cfg, Options{Dir: dir, Wait: 2 * time.Minute})
			if err != nil {
				t.Fatalf("rerun after kill -9 at step %d: %v", n, err)
			}
			t.Logf("kill -9 at step %d +%v: the rerun recovered %v, dropped %v, applied %d", n, delay, res.Recovered, res.Dropped, len(res.Applied))
			st, err := GetStatus(ctx, conn, dir)
			if err != nil || st.Dirty || st.Version != len(migs) || len(st.Invalid) != 0 || len(st.Incomplete) != 0 {
				t.Fatalf("after kill -9 at step %d and a rerun (%+v): status %+v %v", n, res, st, err)
			}
			for _, root := range []string{"pt_a_idx", "pt_b_a_idx"} {
				if valid, k := treeValid(t, conn, root); !valid || k != 6 {
					t.Fatalf("after kill -9 at step %d: %s valid %v over %d indexes", n, root, valid, k)
				}
			}
		}
	})
}

// A build a killed run left running (its backend goes on without the client) is named with its
// pid and start; the next run waits for it (--wait) instead of failing on golang-migrate's lock
// or on the leftover's drop.
func TestOrphanedBuildIsNamed(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db, cfg, dir := setup(t, 20000, "a")
		ctx := t.Context()
		// An old snapshot keeps the build waiting, so it is still running after the kill.
		blocker := holdSnapshot(t, db, "report")
		if !runKilled(t, db.DSN, dir, 1, 200*time.Millisecond) {
			t.Fatal("the run was not killed")
		}
		_, err := Up(ctx, cfg, Options{Dir: dir})
		orphan, ok := err.(*OrphanError)
		if !ok || orphan.PID == 0 || !strings.Contains(err.Error(), "t_a_idx") ||
			!strings.Contains(err.Error(), fmt.Sprintf("pg_cancel_backend(%d)", orphan.PID)) || orphan.Since.IsZero() {
			t.Fatalf("err = %v", err)
		}
		if _, err := blocker.Exec(ctx, "COMMIT"); err != nil {
			t.Fatal(err)
		}
		res, err := Up(ctx, cfg, Options{Dir: dir, Wait: time.Minute})
		if err != nil || len(res.Applied) != 1 || len(res.Recovered) != 1 {
			t.Fatalf("after the orphan ended: %+v %v", res, err)
		}
		if s := indexState(t, db.Connect(t), "t_a_idx"); s != "valid" {
			t.Errorf("index is %s", s)
		}
	})
}
