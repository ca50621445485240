package migrations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookedbarber/pgtune/dbstate"
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
		c := &indexes.Candidate{Table: "public.t", Method: "btree", Keys: []dbstate.IndexKey{{Column: col}}, Name: "t_" + col + "_idx", Why: []string{"test"}}
		props = append(props, &indexes.Proposal{Candidate: c})
	}
	dir := filepath.Join(t.TempDir(), "m")
	if _, err := indexes.Write(dir, indexes.Migrations(props, nil, nil, 0, map[string]bool{}, time.Now())); err != nil {
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
		var mu sync.Mutex
		var logs strings.Builder
		log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = Up(t.Context(), cfg, Options{Dir: dir, Wait: 2 * time.Minute, Log: log})
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
		// The waiting runner says so when it starts waiting, then every 30 s: not every poll.
		mu.Lock()
		waits := strings.Count(logs.String(), "another runner holds the migration lock")
		mu.Unlock()
		if waits > 3 {
			t.Errorf("the wait for the lock was logged %d times", waits)
		}
		conn := db.Connect(t)
		for _, ix := range []string{"t_a_idx", "t_b_idx", "t_c_idx"} {
			if s := indexState(t, conn, ix); s != "valid" {
				t.Errorf("%s is %s", ix, s)
			}
		}
	})
}

// A transaction older than --lock-timeout (a nightly pg_dump) no longer cancels a build:
// CREATE INDEX CONCURRENTLY waits for it, the wait is logged with the blocker's pid and
// application, and the build finishes once the transaction ends.
func TestLongTransactionDoesNotCancelTheBuild(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db, cfg, dir := setup(t, 50000, "a")
		ctx := t.Context()
		blocker := holdSnapshot(t, db, "nightly pg_dump")
		pid := strconv.Itoa(int(blocker.PgConn().PID()))
		// The blocker commits 4 s in; the goroutine is joined before any return, so it never uses
		// the connection after the test has closed it (a race -race found).
		committed := make(chan error, 1)
		go func() {
			select {
			case <-time.After(4 * time.Second):
			case <-ctx.Done():
			}
			_, err := blocker.Exec(context.Background(), "COMMIT")
			committed <- err
		}()
		defer func() { <-committed }()
		var logs strings.Builder
		var mu sync.Mutex
		log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
		res, err := Up(ctx, cfg, Options{Dir: dir, LockTimeout: time.Second, ReportEvery: time.Second, Log: log})
		if err != nil || len(res.Applied) != 1 {
			t.Fatalf("up: %+v %v", res, err)
		}
		if s := indexState(t, db.Connect(t), "t_a_idx"); s != "valid" {
			t.Errorf("index is %s", s)
		}
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(logs.String(), "waits for older transactions") || !strings.Contains(logs.String(), "pid "+pid) ||
			!strings.Contains(logs.String(), "nightly pg_dump") {
			t.Errorf("the wait was not reported with pid %s and the application:\n%s", pid, logs.String())
		}
	})
}

// --max-wait bounds the wait for older transactions: the build is cancelled, the message names
// the blocker and --max-wait, nothing invalid is left, and running again is the advice.
func TestMaxWaitStopsTheBuildAndNamesTheBlocker(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db, cfg, dir := setup(t, 50000, "a")
		ctx := t.Context()
		blocker := holdSnapshot(t, db, "report")
		// The blocker's last statement holds a secret: the message names the session, not it.
		if _, err := blocker.Exec(ctx, "CREATE ROLE blocker_role PASSWORD 'hunter2-secret'"); err != nil {
			t.Fatal(err)
		}
		_, err := Up(ctx, cfg, Options{Dir: dir, LockTimeout: 500 * time.Millisecond, MaxWait: 2 * time.Second, CleanupWait: time.Second})
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the blocker's password is in the message: %v", err)
		}
		pid := strconv.Itoa(int(blocker.PgConn().PID()))
		if err == nil || !strings.Contains(err.Error(), "--max-wait") || !strings.Contains(err.Error(), "pid "+pid) ||
			!strings.Contains(err.Error(), `application "report"`) || strings.Count(err.Error(), "--max-wait") != 1 {
			t.Fatalf("err = %v", err)
		}
		if _, ok := errors.AsType[*WaitError](err); !ok {
			t.Errorf("not a WaitError: %v", err)
		}
		conn := db.Connect(t)
		if _, err := blocker.Exec(ctx, "COMMIT"); err != nil {
			t.Fatal(err)
		}
		// Once the blocker is gone, the advice is to run again (the wait was of the moment).
		if got := nextStep(err, &Migration{}); !strings.Contains(got, "run it again when those transactions are over") {
			t.Errorf("next step = %q", got)
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

// --lock-timeout still bounds the wait for the table's own lock (here: a session holding SHARE
// UPDATE EXCLUSIVE, as a VACUUM or another build does), named in the message.
func TestLockTimeoutBoundsTheTableLock(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db, cfg, dir := setup(t, 1000, "a")
		ctx := t.Context()
		holder := db.Connect(t)
		for _, sql := range []string{"SET application_name = 'ddl holder'", "BEGIN", "LOCK TABLE t IN SHARE UPDATE EXCLUSIVE MODE"} {
			if _, err := holder.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		began := time.Now()
		_, err := Up(ctx, cfg, Options{Dir: dir, LockTimeout: 2 * time.Second, CleanupWait: time.Second})
		took := time.Since(began)
		if err == nil || !strings.Contains(err.Error(), "--lock-timeout") || !strings.Contains(err.Error(), "ddl holder") ||
			!strings.Contains(err.Error(), "when the table is quieter") {
			t.Fatalf("err = %v", err)
		}
		if took > 20*time.Second {
			t.Errorf("the lock wait took %v with --lock-timeout 2s", took)
		}
		holder.Exec(ctx, "COMMIT")
		if res, err := Up(ctx, cfg, Options{Dir: dir}); err != nil || len(res.Applied) != 1 {
			t.Errorf("retry: %+v %v", res, err)
		}
	})
}

// holdSnapshot opens a REPEATABLE READ transaction that has read t, as pg_dump holds one, under
// the given application_name.
func holdSnapshot(t *testing.T, db *pgtest.DB, app string) *pgx.Conn {
	t.Helper()
	c := db.Connect(t)
	for _, sql := range []string{"SET application_name = '" + app + "'", "BEGIN ISOLATION LEVEL REPEATABLE READ", "SELECT count(*) FROM t"} {
		if _, err := c.Exec(t.Context(), sql); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
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
		_, err := Up(ctx, cfg, Options{Dir: dir, LockTimeout: 500 * time.Millisecond, MaxWait: time.Second, CleanupWait: time.Second})
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

// Leftovers are found by the names the parser reads, on the table the statement names: a quoted
// name with spaces, an accent and "" in a quoted schema; an unquoted name folded to lower case;
// and never a same-named index in another schema.
func TestLeftoverNamesFromTheParser(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db, cfg, _ := setup(t, 1000)
		ctx := t.Context()
		conn := db.Connect(t)
		for _, sql := range []string{
			`CREATE SCHEMA "My Schema"`,
			`CREATE TABLE "My Schema".t (id bigint PRIMARY KEY, a int, b int)`,
			// The same name in public, valid: it must survive.
			`CREATE INDEX "Idx ""Ä"" b" ON public.t (a)`,
			// Leftovers of failed builds.
			`CREATE INDEX "Idx ""Ä"" b" ON "My Schema".t (a)`,
			`UPDATE pg_index SET indisvalid = false WHERE indexrelid = '"My Schema"."Idx ""Ä"" b"'::regclass`,
			`CREATE INDEX mixedcase_idx ON public.t (b)`,
			`UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'public.mixedcase_idx'::regclass`,
		} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		dir := t.TempDir()
		files := map[string]string{
			"000001_quoted.up.sql":   GeneratedMark + ".\nCREATE INDEX CONCURRENTLY IF NOT EXISTS \"Idx \"\"Ä\"\" b\" ON \"My Schema\".t (a);\n",
			"000001_quoted.down.sql": "DROP INDEX CONCURRENTLY IF EXISTS \"My Schema\".\"Idx \"\"Ä\"\" b\";\n",
			"000002_folded.up.sql":   GeneratedMark + ".\nCREATE INDEX CONCURRENTLY IF NOT EXISTS MixedCase_Idx ON t (b);\n",
			"000002_folded.down.sql": "DROP INDEX CONCURRENTLY IF EXISTS MixedCase_Idx;\n",
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		st, err := GetStatus(ctx, conn, dir)
		if err != nil || strings.Join(st.Invalid, ",") != `My Schema.Idx "Ä" b,public.mixedcase_idx` {
			t.Fatalf("status: %+v %v", st, err)
		}
		res, err := Up(ctx, cfg, Options{Dir: dir})
		if err != nil || len(res.Dropped) != 2 || len(res.Applied) != 2 {
			t.Fatalf("up: %+v %v", res, err)
		}
		var valid, n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE x.indisvalid), count(*) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE i.relname IN ('Idx "Ä" b', 'mixedcase_idx')`).Scan(&valid, &n); err != nil {
			t.Fatal(err)
		}
		if valid != 3 || n != 3 {
			t.Errorf("%d of %d indexes valid, want 3 of 3 (public's untouched, both leftovers rebuilt)", valid, n)
		}
	})
}

// One directory reader: what 'migrate up' refuses, ReadDir lists as problems for lint.
func TestDirectoryProblems(t *testing.T) {
	for _, tc := range []struct {
		files []string
		want  string
	}{
		{[]string{"000001_a.up.sql", "000001_b.up.sql"}, "version 1 is used twice"},
		{[]string{"000001_a.up.sql", "1_a.up.sql"}, "version 1 is used twice"},
		{[]string{"abc_x.up.sql"}, "abc_x.up.sql is not a migration file"},
		{[]string{"000002_x.up.txt"}, "golang-migrate applies it as migration 000002"},
		{[]string{"000003_x.down.sql"}, "has no up file"},
		{[]string{"99999999999999999999999_x.up.sql"}, "not a number golang-migrate can store"},
		{[]string{"20260101120000_ts.up.sql", "20260101120000_ts.down.sql"}, ""},
	} {
		dir := t.TempDir()
		for _, f := range tc.files {
			os.WriteFile(filepath.Join(dir, f), []byte("SELECT 1;"), 0o644)
		}
		d, err := ReadDir(dir)
		if tc.want == "" {
			if err != nil || len(d.Problems) != 0 || len(d.Migrations) != 1 {
				t.Errorf("%v: %+v %v", tc.files, d, err)
			}
			continue
		}
		if err != nil || len(d.Problems) != 1 || !strings.Contains(d.Problems[0], tc.want) {
			t.Errorf("%v: problems %q, %v; want one with %q", tc.files, d.Problems, err, tc.want)
		}
		if _, err := Read(dir); err == nil || !IsDirError(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: Read = %v", tc.files, err)
		}
	}
	dir := t.TempDir()
	for _, f := range []string{"000001_a.up.sql", "000001_a.down.sql", "README.md", "000002_b.up.sql"} {
		os.WriteFile(filepath.Join(dir, f), []byte("SELECT 1;"), 0o644)
	}
	if d, err := ReadDir(dir); err != nil || len(d.Problems) != 0 || len(d.Migrations) != 2 || len(d.Files) != 3 {
		t.Errorf("a good directory: %+v %v", d, err)
	}
}

// A migration of someone else's that fails, and a roll back that fails: the server's message
// once (not golang-migrate's "(column 0)" decoration, not pgx's text twice), versions as a DBA
// reads them, and the error still the server's for errors.As.
func TestServerErrorsAreSaidOnce(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t)
		cfg, err := pgx.ParseConfig(db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "000001_mine.up.sql"), []byte("CREATE TABLE mine (id int);"), 0o644)
		os.WriteFile(filepath.Join(dir, "000001_mine.down.sql"), []byte("DROP TABLE no_such_table;"), 0o644)
		if _, err := Up(ctx, cfg, Options{Dir: dir}); err != nil {
			t.Fatal(err)
		}
		_, err = Down(ctx, cfg, Options{Dir: dir}, 1)
		msg := fmt.Sprint(err)
		if _, ok := errors.AsType[*pgconn.PgError](err); !ok || !strings.Contains(msg, `roll back version 000001: table "no_such_table" does not exist`) ||
			strings.Contains(msg, "(column") || strings.Count(msg, "does not exist") != 1 {
			t.Errorf("failed roll back: %s", msg)
		}
		// Someone else's migration that fails leaves a dirty version: the message says to what
		// version to force it back, and what golang-migrate's -1 means.
		conn := db.Connect(t)
		if _, err := conn.Exec(ctx, "DELETE FROM schema_migrations; DROP TABLE mine"); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "000001_mine.up.sql"), []byte("CREATE TABLE mine (id int); SELEC 1;"), 0o644)
		_, err = Up(ctx, cfg, Options{Dir: dir})
		msg = fmt.Sprint(err)
		if !strings.Contains(msg, `syntax error at or near "SELEC"`) || strings.Contains(msg, "(column") || strings.Contains(msg, "version -1") ||
			!strings.Contains(msg, "force the version back to none") || !strings.Contains(msg, "-1 means no migration applied") {
			t.Errorf("failed foreign migration: %s", msg)
		}
		// status as a monitoring role: the grant it lacks is named.
		if _, err := conn.Exec(ctx, "CREATE ROLE status_monitor LOGIN IN ROLE pg_monitor"); err != nil {
			t.Fatal(err)
		}
		mcfg := cfg.Copy()
		mcfg.User = "status_monitor"
		mon, err := pgx.ConnectConfig(ctx, mcfg)
		if err != nil {
			t.Fatal(err)
		}
		defer mon.Close(ctx)
		if _, err := GetStatus(ctx, mon, dir); err == nil || !strings.Contains(err.Error(), "GRANT SELECT ON schema_migrations TO status_monitor") {
			t.Errorf("status as a monitoring role: %v", err)
		}
	})
}
