package migrations

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/advisor/model"
	"github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// setup makes a table of rows and a directory of pgtune-generated index migrations on it.
func setup(t *testing.T, rows int, cols ...string) (*pgtest.DB, *pgx.ConnConfig, string) {
	t.Helper()
	db := pgtest.New(t)
	conn := db.Connect(t)
	for _, sql := range []string{
		"CREATE TABLE t (id bigint PRIMARY KEY, a int, b int, c text)",
		"INSERT INTO t SELECT g, g % 1000, g % 77, md5(g::text) FROM generate_series(1, " + itoa(rows) + ") g",
	} {
		if _, err := conn.Exec(t.Context(), sql); err != nil {
			t.Fatal(err)
		}
	}
	var props []*indexes.Proposal
	for _, col := range cols {
		c := &indexes.Candidate{Table: "public.t", Method: "btree", Keys: []model.IndexKey{{Column: col}}, Name: "t_" + col + "_idx", Why: []string{"test"}}
		props = append(props, &indexes.Proposal{Candidate: c})
	}
	dir := filepath.Join(t.TempDir(), "m")
	if _, err := indexes.Write(dir, indexes.Migrations(props, nil, 0, map[string]bool{}, time.Now())); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	return db, cfg, dir
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func indexState(t *testing.T, conn *pgx.Conn, name string) string {
	t.Helper()
	var valid bool
	err := conn.QueryRow(t.Context(), "SELECT x.indisvalid FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE i.relname = $1", name).Scan(&valid)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "missing"
	case err != nil:
		t.Fatal(err)
	case valid:
		return "valid"
	}
	return "invalid"
}

func TestUpReapplyAndDown(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db, cfg, dir := setup(t, 10000, "a", "b")
		conn := db.Connect(t)
		ctx := t.Context()
		res, err := Up(ctx, cfg, Options{Dir: dir})
		if err != nil || len(res.Applied) != 2 || res.From != -1 || res.To != 2 {
			t.Fatalf("up: %+v %v", res, err)
		}
		for _, ix := range []string{"t_a_idx", "t_b_idx"} {
			if s := indexState(t, conn, ix); s != "valid" {
				t.Errorf("%s is %s", ix, s)
			}
		}
		res, err = Up(ctx, cfg, Options{Dir: dir})
		if err != nil || len(res.Applied) != 0 || res.To != 2 {
			t.Errorf("second up: %+v %v", res, err)
		}
		st, err := GetStatus(ctx, conn, dir)
		if err != nil || st.Version != 2 || st.Dirty || len(st.Pending) != 0 {
			t.Errorf("status: %+v %v", st, err)
		}
		res, err = Down(ctx, cfg, Options{Dir: dir}, 1)
		if err != nil || res.To != 1 || indexState(t, conn, "t_b_idx") != "missing" || indexState(t, conn, "t_a_idx") != "valid" {
			t.Errorf("down 1: %+v %v", res, err)
		}
		res, err = Down(ctx, cfg, Options{Dir: dir}, 0)
		if err != nil || res.To != -1 || indexState(t, conn, "t_a_idx") != "missing" {
			t.Errorf("down all: %+v %v", res, err)
		}
		if st, err := GetStatus(ctx, conn, dir); err != nil || st.Version != -1 || len(st.Pending) != 2 {
			t.Errorf("status after down: %+v %v", st, err)
		}
	})
}

// Two runners at once: pgtune's polled lock makes the second wait (holding no snapshot, so the
// first's CREATE INDEX CONCURRENTLY is not blocked by it), then find nothing to do.
func TestConcurrentRunsDoNotDeadlock(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db, cfg, dir := setup(t, 400000, "a", "b", "c")
		var wg sync.WaitGroup
		results := make([]*Result, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = Up(t.Context(), cfg, Options{Dir: dir, Wait: 2 * time.Minute})
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Minute):
			t.Fatal("two concurrent runs did not finish: deadlock")
		}
		applied := 0
		for i := range 2 {
			if errs[i] != nil {
				t.Errorf("run %d: %v", i, errs[i])
				continue
			}
			applied += len(results[i].Applied)
		}
		if applied != 3 {
			t.Errorf("%d migrations applied in all, want 3", applied)
		}
		conn := db.Connect(t)
		for _, ix := range []string{"t_a_idx", "t_b_idx", "t_c_idx"} {
			if s := indexState(t, conn, ix); s != "valid" {
				t.Errorf("%s is %s", ix, s)
			}
		}
	})
}

// A build that fails midway (here: it waits for an old snapshot longer than lock_timeout) leaves
// the database without an invalid index and at the previous version; the next run succeeds.
func TestFailedBuildIsCleanedUpAndRetried(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db, cfg, dir := setup(t, 50000, "a")
		ctx := t.Context()
		blocker := db.Connect(t)
		if _, err := blocker.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ"); err != nil {
			t.Fatal(err)
		}
		if _, err := blocker.Exec(ctx, "SELECT count(*) FROM t"); err != nil {
			t.Fatal(err)
		}
		// The old transaction ends a little after the build gave up, as a report query would.
		go func() {
			time.Sleep(3 * time.Second)
			blocker.Exec(context.Background(), "COMMIT")
		}()
		_, err := Up(ctx, cfg, Options{Dir: dir, LockTimeout: time.Second})
		if err == nil || !strings.Contains(err.Error(), "lock timeout") || !strings.Contains(err.Error(), "no invalid index left") {
			t.Fatalf("err = %v", err)
		}
		conn := db.Connect(t)
		if s := indexState(t, conn, "t_a_idx"); s != "missing" {
			t.Errorf("after the failure the index is %s", s)
		}
		st, err := GetStatus(ctx, conn, dir)
		if err != nil || st.Dirty || st.Version != -1 {
			t.Errorf("status after the failure: %+v %v", st, err)
		}
		if res, err := Up(ctx, cfg, Options{Dir: dir}); err != nil || len(res.Applied) != 1 || indexState(t, conn, "t_a_idx") != "valid" {
			t.Errorf("retry: %+v %v", res, err)
		}
	})
}

// When the old transaction outlasts the cleanup, the version still goes back, the message says
// the leftover is still there, and the next run drops it before building.
func TestLeftoverOutlastingTheCleanupIsDroppedNextRun(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db, cfg, dir := setup(t, 50000, "a")
		ctx := t.Context()
		blocker := db.Connect(t)
		for _, sql := range []string{"BEGIN ISOLATION LEVEL REPEATABLE READ", "SELECT count(*) FROM t"} {
			if _, err := blocker.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		_, err := Up(ctx, cfg, Options{Dir: dir, LockTimeout: 500 * time.Millisecond, CleanupWait: time.Second})
		if err == nil || !strings.Contains(err.Error(), "still in use by an old transaction") {
			t.Fatalf("err = %v", err)
		}
		conn := db.Connect(t)
		if st, err := GetStatus(ctx, conn, dir); err != nil || st.Dirty || st.Version != -1 || len(st.Invalid) != 1 {
			t.Errorf("status: %+v %v", st, err)
		}
		if _, err := blocker.Exec(ctx, "COMMIT"); err != nil {
			t.Fatal(err)
		}
		res, err := Up(ctx, cfg, Options{Dir: dir})
		if err != nil || len(res.Dropped) != 1 || len(res.Applied) != 1 || indexState(t, conn, "t_a_idx") != "valid" {
			t.Errorf("next run: %+v %v", res, err)
		}
	})
}

// A run killed midway (the process gone) leaves a dirty version and an invalid index; the next
// run recovers both, because the migration is pgtune's.
func TestDirtyPgtuneMigrationIsRecovered(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db, cfg, dir := setup(t, 1000, "a")
		ctx := t.Context()
		conn := db.Connect(t)
		for _, sql := range []string{
			"CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL)",
			"INSERT INTO schema_migrations VALUES (1, true)",
			// What a cancelled CREATE INDEX CONCURRENTLY leaves: the index, marked invalid.
			"CREATE INDEX t_a_idx ON t (a)",
			"UPDATE pg_index SET indisvalid = false WHERE indexrelid = 't_a_idx'::regclass",
		} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		res, err := Up(ctx, cfg, Options{Dir: dir})
		if err != nil || len(res.Recovered) != 1 || len(res.Dropped) != 1 || len(res.Applied) != 1 {
			t.Fatalf("%+v %v", res, err)
		}
		if s := indexState(t, conn, "t_a_idx"); s != "valid" {
			t.Errorf("index is %s", s)
		}
	})
}

func TestRefusals(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db, cfg, dir := setup(t, 10, "a")
		ctx := t.Context()
		// Another runner holds the lock.
		holder := db.Connect(t)
		if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1)", LockKey(cfg.Database)); err != nil {
			t.Fatal(err)
		}
		if _, err := Up(ctx, cfg, Options{Dir: dir}); !errors.Is(err, ErrBusy) {
			t.Errorf("busy: %v", err)
		}
		if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", LockKey(cfg.Database)); err != nil {
			t.Fatal(err)
		}
		// A .sql file that is not a migration.
		os.WriteFile(filepath.Join(dir, "notes.sql"), []byte("SELECT 1;"), 0o644)
		if _, err := Up(ctx, cfg, Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "notes.sql is not a migration file") {
			t.Errorf("foreign file: %v", err)
		}
		os.Remove(filepath.Join(dir, "notes.sql"))
		// A dirty migration that is not pgtune's is left for a human.
		os.WriteFile(filepath.Join(dir, "000002_mine.up.sql"), []byte("ALTER TABLE t ADD COLUMN z int;"), 0o644)
		os.WriteFile(filepath.Join(dir, "000002_mine.down.sql"), []byte("ALTER TABLE t DROP COLUMN z;"), 0o644)
		conn := db.Connect(t)
		for _, sql := range []string{"CREATE TABLE schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL)", "INSERT INTO schema_migrations VALUES (2, true)"} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := Up(ctx, cfg, Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "not a pgtune migration") {
			t.Errorf("foreign dirty: %v", err)
		}
	})
}
