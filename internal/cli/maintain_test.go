package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookedbarber/pgtune/internal/pgtest"
	"github.com/bookedbarber/pgtune/maintenance"
)

// maintenanceServer starts a server of the test's own with autovacuum off (so nothing cleans up
// behind the test's back) and a low autovacuum_freeze_max_age, and plants: a table whose
// transaction IDs are 70 % of the way to a forced freeze, a table bloated by updates, one bloated
// table another session will lock, a table never analysed, and a partitioned table.
func maintenanceServer(t *testing.T) (*pgtest.Dedicated, *pgx.Conn) {
	t.Helper()
	srv := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Conf: "autovacuum = off\nautovacuum_freeze_max_age = 100000\n"})
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, srv.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	for _, sql := range []string{
		`CREATE TABLE old_rows (id int PRIMARY KEY, v text)`,
		`INSERT INTO old_rows SELECT g, 'x' FROM generate_series(1, 5000) g`,
		`SELECT pg_stat_force_next_flush()`, // the writes' counts reach the statistics before the ANALYZE's
		`ANALYZE old_rows`,
		// 70,000 transaction IDs: subtransactions that each write take one.
		`CREATE TABLE burner (n int)`,
		`DO $$ BEGIN FOR i IN 1..70000 LOOP BEGIN INSERT INTO burner VALUES (i); EXCEPTION WHEN OTHERS THEN NULL; END; END LOOP; END $$`,
		`DROP TABLE burner`,
		`CREATE TABLE bloated (id int PRIMARY KEY, v int)`,
		`INSERT INTO bloated SELECT g, 0 FROM generate_series(1, 20000) g`,
		`SELECT pg_stat_force_next_flush()`,
		`ANALYZE bloated`,
		`UPDATE bloated SET v = 1`,
		`UPDATE bloated SET v = 2`,
		`CREATE TABLE "Locked" (id int PRIMARY KEY, v int)`,
		`INSERT INTO "Locked" SELECT g, 0 FROM generate_series(1, 20000) g`,
		`SELECT pg_stat_force_next_flush()`,
		`ANALYZE "Locked"`,
		`UPDATE "Locked" SET v = 1`,
		`CREATE TABLE never_analyzed (id int)`,
		`INSERT INTO never_analyzed SELECT generate_series(1, 1000)`,
		`CREATE TABLE events (at date, n int) PARTITION BY RANGE (at)`,
		`CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`,
		`INSERT INTO events SELECT '2026-06-01'::date + (g % 100), g FROM generate_series(1, 1000) g`,
		`SELECT pg_stat_force_next_flush()`,
		`ANALYZE events_2026`,
	} {
		if sql == `SELECT pg_stat_force_next_flush()` && srv.Major < 15 {
			// Before 15 a backend sends its counters when it goes idle at least 500 ms after it last
			// did: the sleep's own end sends the writes' counts, ahead of the ANALYZE's.
			sql = `SELECT pg_sleep(0.6)`
		}
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// The statistics arrive about a second after the writes.
	deadline := time.Now().Add(15 * time.Second)
	for {
		var dead, analysed int64
		if err := conn.QueryRow(ctx, `SELECT coalesce(sum(n_dead_tup) FILTER (WHERE relname IN ('bloated', 'Locked')), 0)::int8,
       count(last_analyze) FILTER (WHERE relname IN ('old_rows', 'bloated', 'Locked', 'events_2026'))
FROM pg_stat_user_tables`).Scan(&dead, &analysed); err != nil {
			t.Fatal(err)
		}
		if dead >= 60000 && analysed == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead tuples %d after 15 s", dead)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return srv, conn
}

type planDoc struct {
	Result struct {
		Actions  []maintenance.Action `json:"actions"`
		Timeline []maintenance.Slot   `json:"timeline"`
	} `json:"result"`
}

func TestMaintainPlanAndRun(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		srv, conn := maintenanceServer(t)
		ctx := t.Context()

		r := run(t, "maintain", "plan", "--dsn", srv.AdminDSN, "--format", "json")
		if r.code != ExitOK {
			t.Fatalf("plan: exit %d: %s", r.code, r.stderr)
		}
		var doc planDoc
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, a := range doc.Result.Actions {
			order = append(order, fmt.Sprintf("%s:%s:%s", a.Table, opsString(a.Ops), a.Reasons[0].Rule))
		}
		// Every table made before the 70,000 XIDs is past half of autovacuum_freeze_max_age: old_rows
		// is frozen first; the bloated tables next (their dead rows); then the statistics.
		// bloated (two updates: 9.9× its trigger) before Locked (one: 4.9×); both changed since their
		// last analyse too, so the VACUUM analyses them.
		want := []string{"public.old_rows:freeze:xid_age", "public.bloated:vacuum+analyze:dead_tuples", "public.Locked:vacuum+analyze:dead_tuples",
			"public.never_analyzed:analyze:never_analyzed", "public.events:analyze:partitioned_parent"}
		if strings.Join(order, " ") != strings.Join(want, " ") {
			t.Errorf("plan order\n got %v\nwant %v", order, want)
		}
		// The night laid out: one job, no window, every action one after another and fitting.
		if n := len(doc.Result.Timeline); n != len(want) || !doc.Result.Timeline[0].Fits || doc.Result.Timeline[1].Start != doc.Result.Timeline[0].End {
			t.Errorf("the plan's timeline: %+v", doc.Result.Timeline)
		}
		// A window nothing fits in: said in the note, and every slot marked.
		if r := run(t, "maintain", "plan", "--dsn", srv.AdminDSN, "--max-duration", "1ns", "--jobs", "2"); !strings.Contains(r.stdout, "0 of 5 action(s) fit") {
			t.Errorf("--max-duration 1ns: exit %d: %s\n%s", r.code, r.stderr, r.stdout)
		}
		// The report a DBA attaches: the night as a timeline on two jobs in a ten-minute window.
		r = run(t, "maintain", "plan", "--dsn", srv.AdminDSN, "--max-duration", "10m", "--jobs", "2", "--format", "html")
		if r.code != ExitOK {
			t.Fatalf("plan --format html: exit %d: %s", r.code, r.stderr)
		}
		for _, want := range []string{"Maintenance plan for ", `aria-label="timeline"`, "window ends, 10m", "freeze public.old_rows", "job 2 ·", "What keeps VACUUM from freezing"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("the plan's report lacks %q", want)
			}
		}
		renderHTML(t, fmt.Sprintf("maintain-plan-%d", srv.Major), r.stdout, 1100, 1400, false)

		// A monitoring gate: the plan has nothing high (70 % is medium).
		if r := run(t, "maintain", "plan", "--dsn", srv.AdminDSN, "--fail-on", "medium"); r.code != ExitFindings {
			t.Errorf("--fail-on medium: exit %d", r.code)
		}

		// Another session holds "Locked"; the run must skip it within lock_timeout, not wait.
		holder, err := pgx.Connect(ctx, srv.AdminDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Close(context.Background())
		tx, err := holder.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE "Locked" IN ACCESS EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		// Two jobs: two sessions take the tables in order. A 256 kB ring (BUFFER_USAGE_LIMIT, 16+)
		// and parallel index vacuuming run for real where the server has them.
		r = run(t, "maintain", "run", "--dsn", srv.AdminDSN, "--lock-timeout", "1s", "--jobs", "2", "--buffer-usage-limit", "256kB", "--parallel", "2",
			"--format", "json", "--log-format", "json")
		took := time.Since(began)
		_ = tx.Rollback(ctx)
		if r.code != ExitOK {
			t.Fatalf("run: exit %d: %s\n%s", r.code, r.stderr, r.stdout)
		}
		var sum struct {
			Result maintenance.Summary `json:"result"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
			t.Fatal(err)
		}
		status := map[string]maintenance.Result{}
		for _, res := range sum.Result.Results {
			status[res.Table] = res
		}
		if s := status["public.Locked"]; s.Status != maintenance.StatusSkipped || !strings.Contains(s.Reason, "locked") {
			t.Errorf("Locked: %+v", s)
		}
		for _, tbl := range []string{"public.old_rows", "public.bloated", "public.never_analyzed", "public.events"} {
			if s := status[tbl]; s.Status != maintenance.StatusDone {
				t.Errorf("%s: %+v", tbl, s)
			}
		}
		// What each version's VACUUM and ANALYZE were given, as they ran.
		ring := strings.Contains(status["public.bloated"].SQL, "BUFFER_USAGE_LIMIT '256kB'")
		if ring != (srv.Major >= 16) {
			t.Errorf("PostgreSQL %d ran %q", srv.Major, status["public.bloated"].SQL)
		}
		only := strings.Contains(status["public.events"].SQL, `ONLY public.events`)
		if only != (srv.Major >= 18) {
			t.Errorf("PostgreSQL %d analysed the partitioned parent with %q (ANALYZE ONLY is 18's)", srv.Major, status["public.events"].SQL)
		}
		// Page pruning during the second UPDATE may already have removed some of the first's.
		if s := status["public.bloated"]; s.TuplesRemoved < 15000 || s.PagesScanned == 0 {
			t.Errorf("bloated: %d dead tuples removed, %d pages scanned; want 15000+", s.TuplesRemoved, s.PagesScanned)
		}
		if took > 20*time.Second {
			t.Errorf("the run took %v: it waited for the lock instead of skipping", took)
		}
		// One JSON log line per action on stderr.
		if n := strings.Count(r.stderr, `"msg":"maintenance action"`); n != 5 {
			t.Errorf("%d action log lines, want 5:\n%s", n, r.stderr)
		}
		// The database shows the work.
		var age, analysed int64
		if err := conn.QueryRow(ctx, `SELECT age(relfrozenxid) FROM pg_class WHERE relname = 'old_rows'`).Scan(&age); err != nil || age > 1000 {
			t.Errorf("old_rows age %d after the freeze (%v)", age, err)
		}
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stats WHERE tablename IN ('never_analyzed', 'events')`).Scan(&analysed); err != nil || analysed < 3 {
			t.Errorf("statistics rows for never_analyzed and events: %d (%v)", analysed, err)
		}

		// The plan, made again, has only the table that was locked. Before 15 the statistics
		// collector hears of the VACUUMs a moment after they end: the plan is made again until then.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			r = run(t, "maintain", "plan", "--dsn", srv.AdminDSN, "--format", "json")
			doc = planDoc{}
			_ = json.Unmarshal([]byte(r.stdout), &doc)
			if len(doc.Result.Actions) == 1 || srv.Major >= 15 || time.Now().After(deadline) {
				break
			}
		}
		if len(doc.Result.Actions) != 1 || doc.Result.Actions[0].Table != "public.Locked" {
			t.Errorf("after the run, the plan holds %+v", doc.Result.Actions)
		}
	})
}

// pg_maintain (17+) is enough for maintain run: a role that owns none of the tables, with only that
// role granted, vacuums, freezes and analyses them for real.
func TestMaintainRunWithPgMaintain(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		srv, conn := maintenanceServer(t)
		ctx := t.Context()
		if _, err := conn.Exec(ctx, "CREATE ROLE nightly LOGIN; GRANT pg_maintain TO nightly"); err != nil {
			t.Fatal(err)
		}
		dsn := strings.Replace(srv.AdminDSN, "postgres://postgres@", "postgres://nightly@", 1)
		r := run(t, "maintain", "run", "--dsn", dsn, "--lock-timeout", "1s", "--format", "json")
		if r.code != ExitOK {
			t.Fatalf("run as a pg_maintain member: exit %d: %s\n%s", r.code, r.stderr, r.stdout)
		}
		var sum struct {
			Result maintenance.Summary `json:"result"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
			t.Fatal(err)
		}
		for _, res := range sum.Result.Results {
			if res.Table == "public.bloated" && (res.Status != maintenance.StatusDone || res.TuplesRemoved < 15000) {
				t.Errorf("bloated as nightly: %+v", res)
			}
		}
		var age int64
		if err := conn.QueryRow(ctx, `SELECT age(relfrozenxid) FROM pg_class WHERE relname = 'old_rows'`).Scan(&age); err != nil || age > 1000 {
			t.Errorf("old_rows age %d after the freeze as nightly (%v)", age, err)
		}
	}, pgtest.Since(17))
}

func TestMaintainRunWindowAndLock(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		srv, conn := maintenanceServer(t)
		ctx := t.Context()

		// A window too short for anything: nothing starts, each says why.
		r := run(t, "maintain", "run", "--dsn", srv.AdminDSN, "--max-duration", "10ms", "--format", "json")
		if r.code != ExitOK || strings.Count(r.stdout, `"status": "not_started"`) != 5 || strings.Contains(r.stdout, `"status": "done"`) || !strings.Contains(r.stdout, "left in the window") {
			t.Errorf("a 10 ms window: exit %d, %s\n%s", r.code, r.stderr, r.stdout)
		}
		// The dry run prints the statements and changes nothing.
		r = run(t, "maintain", "run", "--dsn", srv.AdminDSN, "--dry-run")
		toast := ", PROCESS_TOAST true" // 14+
		if srv.Major < 14 {
			toast = ""
		}
		if r.code != ExitOK || !strings.Contains(r.stdout, `VACUUM (FREEZE, SKIP_LOCKED, VERBOSE, TRUNCATE false`+toast+`) public.old_rows;`) ||
			!strings.Contains(r.stdout, `VACUUM (SKIP_LOCKED, VERBOSE, ANALYZE, TRUNCATE false`+toast+`) public."Locked";`) {
			t.Errorf("dry run: exit %d, %s\n%s", r.code, r.stderr, r.stdout)
		}
		var dead int64
		if err := conn.QueryRow(ctx, `SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'bloated'`).Scan(&dead); err != nil || dead < 40000 {
			t.Errorf("the dry run vacuumed: %d dead tuples left (%v)", dead, err)
		}
		// A second run while one holds the maintenance lock exits with 4 and does nothing.
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", maintenance.LockKey); err != nil {
			t.Fatal(err)
		}
		r = run(t, "maintain", "run", "--dsn", srv.AdminDSN)
		if r.code != ExitBusy || !strings.Contains(r.stderr, "another pgtune maintain run") || r.stdout != "" {
			t.Errorf("concurrent run: exit %d, %q", r.code, r.stderr)
		}
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", maintenance.LockKey); err != nil {
			t.Fatal(err)
		}
	})
}

// SIGTERM (the context pgtune's main cancels on SIGTERM and SIGINT) stops a running VACUUM on the
// server, not just the client, and the run still reports what it did.
func TestMaintainRunStopsOnSignal(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		srv, conn := maintenanceServer(t)
		ctx := t.Context()
		if _, err := conn.Exec(ctx, `CREATE TABLE big (id int, pad text);
INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 300000) g; ANALYZE big; DELETE FROM big WHERE id % 2 = 0`); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond) // statistics
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan result, 1)
		go func() {
			var out, errb strings.Builder
			// Throttled to a crawl so the VACUUM of big is still running when the signal comes.
			code := Run(runCtx, []string{"maintain", "run", "--dsn", srv.AdminDSN, "--table", "public.big", "--cost-delay", "100ms", "--cost-limit", "1", "--format", "json"},
				strings.NewReader(""), &out, &errb)
			done <- result{code, out.String(), errb.String()}
		}()
		// Wait for the VACUUM to be running on the server.
		deadline := time.Now().Add(15 * time.Second)
		for {
			var n int
			_ = conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_progress_vacuum`).Scan(&n)
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the VACUUM never showed in pg_stat_progress_vacuum")
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		var r result
		select {
		case r = <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("the run did not stop within 20 s of the signal")
		}
		if r.code != ExitFailed || !strings.Contains(r.stderr, "interrupted") || !strings.Contains(r.stdout, `"interrupted": true`) {
			t.Errorf("exit %d, %q\n%s", r.code, r.stderr, r.stdout)
		}
		// Nothing of the run is left on the server.
		deadline = time.Now().Add(10 * time.Second)
		for {
			var n int
			_ = conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%VACUUM%big%' AND pid <> pg_backend_pid()`).Scan(&n)
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the VACUUM still runs on the server after the signal")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

func TestMaintainBadInput(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"run", "--until", "25:00"}, "--until \"25:00\": want HH:MM"},
		{[]string{"run", "--until", "05:00", "--max-duration", "1h"}, "not both"},
		{[]string{"run", "--jobs", "0"}, "--jobs 0: want 1 to 64"},
		{[]string{"run", "--buffer-usage-limit", "lots"}, "want a size such as 256MB"},
		{[]string{"plan", "--freeze-share", "0"}, "--freeze-share 0"},
		{[]string{"frobnicate"}, "unknown subcommand"},
		{nil, "missing subcommand"},
	}
	for _, c := range cases {
		// An unreachable DSN: bad flags must be refused before any connection is tried.
		r := run(t, append(append([]string{"maintain"}, c.args...), "--dsn", "postgres://nobody@127.0.0.1:1/none")...)
		if c.args == nil {
			r = run(t, "maintain")
		}
		if r.code != ExitUsage || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v: exit %d, %q; want exit 2 naming %q", c.args, r.code, r.stderr, c.msg)
		}
	}
}

// A worker whose session refuses a SET drains its share of the queue: the run ends (it used to
// wait for ever), every action not started with the reason, and the error names the SET. The
// CLI refuses such a value before connecting.
func TestMaintainRunWorkerSetupFails(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t)
		conn := db.Connect(t)
		exec1(t, conn, "CREATE TABLE a (id int)", "CREATE TABLE b (id int)", "CREATE TABLE c (id int)")
		var version int
		if err := conn.QueryRow(t.Context(), "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
			t.Fatal(err)
		}
		cfg, err := pgx.ParseConfig(db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		plan := &maintenance.Plan{ServerVersion: version}
		for _, name := range []string{"public.a", "public.b", "public.c"} {
			plan.Actions = append(plan.Actions, maintenance.Action{Table: name, Ops: []maintenance.Operation{maintenance.OpAnalyze}})
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		sum, err := maintenance.Run(ctx, cfg, plan, maintenance.RunOptions{Jobs: 2, LockTimeout: time.Second, CostDelay: 200 * time.Millisecond})
		if ctx.Err() != nil {
			t.Fatal("the run hung until the test's deadline")
		}
		if err == nil || !strings.Contains(err.Error(), "vacuum_cost_delay") {
			t.Errorf("error %v, want one naming the SET", err)
		}
		if sum != nil && sum.NotStarted != len(plan.Actions) {
			t.Errorf("%d of %d actions not started", sum.NotStarted, len(plan.Actions))
		}
		if r := run(t, "maintain", "run", "--dsn", db.DSN, "--cost-delay", "200ms"); r.code != ExitUsage || !strings.Contains(r.stderr, "0 to 100ms") {
			t.Errorf("maintain run --cost-delay 200ms: exit %d, %s", r.code, r.stderr)
		}
	})
}

// A role that owns none of the tables (and, on 17+, has no MAINTAIN nor pg_maintain) is told up
// front: plan marks every action NOT PERMITTED with the grant that fixes it and exits 1; run does
// not report "done" for what PostgreSQL would skip with a mere WARNING, and exits 1; the dead
// rows are still there. The WARNING itself (were the privilege to change after the plan) is
// recognised on every major.
func TestMaintainRunAsNonOwner(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		srv, conn := maintenanceServer(t)
		ctx := t.Context()
		exec1(t, conn, "CREATE ROLE nightly LOGIN", "GRANT pg_monitor TO nightly", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO nightly")
		dsn := strings.Replace(srv.AdminDSN, "postgres://postgres@", "postgres://nightly@", 1)
		grant := "GRANT postgres TO nightly"
		if srv.Major >= 17 {
			grant = "GRANT MAINTAIN ON TABLE public.bloated TO nightly"
		}
		r := run(t, "maintain", "plan", "--dsn", dsn)
		if r.code != ExitFindings || !strings.Contains(r.stdout, "NOT PERMITTED") || !strings.Contains(r.stderr, "nightly may not vacuum or analyse") ||
			!strings.Contains(r.stdout+r.stderr, strings.SplitN(grant, " public.bloated", 2)[0]) {
			t.Errorf("plan as a non-owner: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		var dead int64
		conn.QueryRow(ctx, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'bloated'").Scan(&dead)
		r = run(t, "maintain", "run", "--dsn", dsn, "--lock-timeout", "1s", "--format", "json")
		var sum struct {
			Result maintenance.Summary `json:"result"`
		}
		if r.code != ExitFindings || json.Unmarshal([]byte(r.stdout), &sum) != nil || sum.Result.Done != 0 ||
			sum.Result.NotPermitted != len(sum.Result.Results) || !strings.Contains(r.stderr, "not permitted") {
			t.Fatalf("run as a non-owner: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		var after int64
		conn.QueryRow(ctx, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'bloated'").Scan(&after)
		if dead == 0 || after < dead {
			t.Errorf("dead rows %d before, %d after: the run was not supposed to vacuum", dead, after)
		}
		// PostgreSQL's own WARNING for a table the role may not vacuum or analyse.
		exec1(t, conn, "CREATE TABLE private_t (id int)", "GRANT SELECT ON private_t TO nightly")
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		var msgs []string
		cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { msgs = append(msgs, n.Message) }
		nc, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close(context.Background())
		for _, sql := range []string{"VACUUM (VERBOSE) public.private_t", "ANALYZE (VERBOSE) public.private_t"} {
			msgs = nil
			if _, err := nc.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
			found := false
			for _, m := range msgs {
				found = found || maintenance.IsNotPermitted(m)
			}
			if !found {
				t.Errorf("%s: the skip is not recognised in %q", sql, msgs)
			}
		}
		// The grant the message names lets the run do that table.
		exec1(t, conn, grant)
		r = run(t, "maintain", "run", "--dsn", dsn, "--table", "public.bloated", "--lock-timeout", "1s", "--format", "json")
		sum.Result = maintenance.Summary{}
		if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &sum) != nil || sum.Result.Done != 1 {
			t.Errorf("after %s: exit %d\n%s\n%s", grant, r.code, r.stdout, r.stderr)
		}

	})
}
