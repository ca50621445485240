package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// The secrets the production-like fixture plants; none may appear in anything pgtune prints or
// writes.
const (
	appPassword     = "AppPw-7f3e9c1d"  // CREATE ROLE ... PASSWORD, kept by pg_stat_statements
	monitorPassword = "MonPw-5b8a2e44"  // in the DSN pgtune is given
	kvPassword      = "KvPw-c0ffee9911" // in a key=value DSN
	pgssMax         = 1000
)

// measure marks the test's own statements, so that its reads of the statistics can be told from
// the application's and pgtune's.
const measure = "/* measure */ "

// measured ends the test's own statements with the same mark: from 18 on pg_stat_statements
// keeps a text from its first token, and only a comment after it survives.
const measured = " /* measured */"

// prodFixture is a database as production looks: the booking app loaded and run (inserts
// through foreign keys, so PostgreSQL's RI checks are in pg_stat_statements under track = all),
// a role created with a password, pg_stat_statements near its max, and the roles a DBA gives
// pgtune: pg_monitor alone, and pg_monitor with read access.
type prodFixture struct {
	admin   *pgx.Conn
	dbDSN   func(user, password string) string
	major   int
	monitor string // pg_monitor only
	reader  string // pg_monitor + SELECT on the tables
}

func newProdFixture(t *testing.T) *prodFixture {
	t.Helper()
	d := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Conf: fmt.Sprintf("pg_stat_statements.max = %d\npg_stat_statements.track = all\n", pgssMax)})
	ctx := t.Context()
	admin0, err := pgx.Connect(ctx, d.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	exec1(t, admin0, "CREATE DATABASE booking")
	admin0.Close(ctx)
	u, err := url.Parse(d.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	f := &prodFixture{major: d.Major}
	f.dbDSN = func(user, password string) string {
		v := *u
		v.Path = "/booking"
		v.User = url.UserPassword(user, password)
		if password == "" {
			v.User = url.User(user)
		}
		return v.String()
	}
	f.admin, err = pgx.Connect(ctx, f.dbDSN("postgres", ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.admin.Close(t.Context()) })
	exec1(t, f.admin, "CREATE EXTENSION pg_stat_statements", "CREATE EXTENSION hypopg")
	if _, err := booking.Load(ctx, f.admin, booking.LoadOptions{Options: booking.Options{Scale: 0.05, Seed: 2}}); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(f.dbDSN("postgres", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := booking.Run(ctx, cfg, booking.RunOptions{Actions: 1500, Clients: 3, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	// Roles are server-wide; the server is this test's own.
	exec1(t, f.admin,
		"CREATE ROLE booking_app LOGIN PASSWORD '"+appPassword+"'",
		"CREATE ROLE pgtune_monitor LOGIN", "GRANT pg_monitor TO pgtune_monitor",
		"CREATE ROLE pgtune_reader LOGIN", "GRANT pg_monitor TO pgtune_reader",
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO pgtune_reader",
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO booking_app")
	f.monitor = f.dbDSN("pgtune_monitor", monitorPassword)
	f.reader = f.dbDSN("pgtune_reader", monitorPassword)

	// Fill pg_stat_statements to near its max with the application's own distinct statements.
	app, err := pgx.Connect(ctx, f.dbDSN("booking_app", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	for k := 1; f.entries(t) < pgssMax*8/10; k++ {
		for range 50 {
			k++
			if _, err := app.Exec(ctx, "SELECT id"+strings.Repeat(", id", k)+" FROM shops WHERE id = $1", 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	return f
}

func (f *prodFixture) entries(t *testing.T) int {
	t.Helper()
	var n int
	if err := f.admin.QueryRow(t.Context(), measure+"SELECT count(*) FROM pg_stat_statements"+measured).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// rows are pg_stat_statements' rows by (role, queryid, toplevel), with their calls.
func (f *prodFixture) rows(t *testing.T) map[string]int64 {
	t.Helper()
	top := "s.toplevel"
	if f.major < 14 {
		top = "true"
	}
	rs, err := f.admin.Query(t.Context(), measure+`SELECT r.rolname || ' ' || s.queryid || ' ' || `+top+`::text, s.calls
FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE s.query NOT LIKE '%/* measure%'`+measured)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for rs.Next() {
		var k string
		var c int64
		if err := rs.Scan(&k, &c); err != nil {
			t.Fatal(err)
		}
		out[k] = c
	}
	return out
}

// indexScans are the user indexes' idx_scan once the statistics have settled.
func (f *prodFixture) indexScans(t *testing.T) map[string]int64 {
	t.Helper()
	if f.major >= 15 {
		exec1(t, f.admin, measure+"SELECT pg_stat_force_next_flush()"+measured)
	}
	var last map[string]int64
	for range 20 {
		time.Sleep(700 * time.Millisecond) // other backends flush on exit, the collector (13, 14) within 0.5 s
		rs, err := f.admin.Query(t.Context(), measure+"SELECT indexrelid::regclass::text, idx_scan FROM pg_stat_user_indexes"+measured)
		if err != nil {
			t.Fatal(err)
		}
		cur := map[string]int64{}
		for rs.Next() {
			var k string
			var n int64
			if err := rs.Scan(&k, &n); err != nil {
				t.Fatal(err)
			}
			cur[k] = n
		}
		if fmt.Sprint(cur) == fmt.Sprint(last) {
			return cur
		}
		last = cur
	}
	return last
}

// noSecrets fails if any planted secret is in text.
func noSecrets(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range []string{appPassword, monitorPassword, kvPassword} {
		if strings.Contains(text, s) {
			t.Errorf("%s holds the secret %q", where, s)
		}
	}
}

// noSecretsInDir checks every file under dir.
func noSecretsInDir(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			body, _ := os.ReadFile(p)
			noSecrets(t, p, string(body))
		}
		return nil
	})
}

// noInternalFindings fails if a finding or a top statement is about pgtune's own statements or
// PostgreSQL's foreign-key checks.
func noInternalFindings(t *testing.T, stdout string) {
	t.Helper()
	for _, bad := range []string{"/* pgtune */", "pgtune_whatif", "FOR KEY SHARE OF x", `LEFT OUTER JOIN ONLY`, "rewrite.n_plus_one"} {
		if strings.Contains(stdout, bad) {
			t.Errorf("advise's report mentions %q (pgtune's own or PostgreSQL's internal statements)", bad)
		}
	}
}

func TestProductionLikeFixture(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		f := newProdFixture(t)
		dir := t.TempDir()

		// pg_monitor alone: the planner refuses EXPLAIN. advise prints its report with the gap
		// and exits 3 naming the grant; indexes generate writes nothing and exits 3; check says
		// it.
		grant := "GRANT pg_read_all_data TO pgtune_monitor"
		if f.major < 14 {
			grant = "GRANT SELECT ON ALL TABLES IN SCHEMA <schema> TO pgtune_monitor"
		}
		r := run(t, "advise", "--dsn", f.monitor, "--format", "json")
		if r.code != ExitFailed || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, grant) {
			t.Errorf("advise as pg_monitor: exit %d, stderr %q; want exit 3 and one line naming %q", r.code, r.stderr, grant)
		}
		var doc struct {
			Result struct {
				Source struct {
					Gaps []struct{ What, Reason string } `json:"gaps"`
				} `json:"source"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("advise as pg_monitor printed no report: %v\n%s", err, r.stdout)
		}
		gap := false
		for _, g := range doc.Result.Source.Gaps {
			gap = gap || g.What == "planner proofs" && strings.Contains(g.Reason, grant)
		}
		if !gap {
			t.Errorf("no 'planner proofs' gap naming the grant: %+v", doc.Result.Source.Gaps)
		}
		noSecrets(t, "advise (pg_monitor) output", r.stdout+r.stderr)
		migDir := filepath.Join(dir, "monitor-migrations")
		r = run(t, "indexes", "generate", "--dsn", f.monitor, "--dir", migDir)
		if entries, _ := os.ReadDir(migDir); r.code != ExitFailed || !strings.Contains(r.stderr, grant) || len(entries) != 0 {
			t.Errorf("indexes generate as pg_monitor: exit %d, %d files, stderr %q", r.code, len(entries), r.stderr)
		}
		noSecrets(t, "indexes generate (pg_monitor) output", r.stdout+r.stderr)
		r = run(t, "check", "--dsn", f.monitor, "--format", "json")
		if !strings.Contains(r.stdout, "check.privileges.planner_proofs") || !strings.Contains(r.stdout, "pg_read_all_data") && f.major >= 14 {
			t.Errorf("check as pg_monitor does not name the planner's privilege: exit %d\n%s", r.code, r.stdout)
		}
		noSecrets(t, "check output", r.stdout+r.stderr)

		// A reader (pg_monitor and SELECT): advise twice, a snapshot, migrations. The
		// application's rows and every idx_scan stay as they were, pg_stat_statements gains at
		// most the stated bound and evicts nothing.
		scans, rows, entries := f.indexScans(t), f.rows(t), f.entries(t)
		for i := range 2 {
			r = run(t, "advise", "--dsn", f.reader, "--format", "json")
			if r.code != ExitOK {
				t.Fatalf("advise as reader (run %d): exit %d: %s", i+1, r.code, r.stderr)
			}
			noSecrets(t, "advise (reader) output", r.stdout+r.stderr)
			noInternalFindings(t, r.stdout)
			after := f.entries(t)
			// First run: the fixed texts of a run and one nested row per statement planned (the
			// text cap keeps it below 95 % of max); later runs: the same keys again.
			bound := int(0.95*pgssMax) - entries
			if i == 1 {
				bound = 3
			}
			if after-entries > bound || after > pgssMax*95/100 {
				t.Errorf("advise run %d: pg_stat_statements went from %d to %d entries (bound %d, max %d)", i+1, entries, after, bound, pgssMax)
			}
			var dealloc int64 = -1
			if f.major >= 14 {
				f.admin.QueryRow(t.Context(), measure+"SELECT dealloc FROM pg_stat_statements_info"+measured).Scan(&dealloc)
			}
			t.Logf("advise run %d as reader: pg_stat_statements %d -> %d entries (%d evicted since the reset)", i+1, entries, after, dealloc)
			entries = after
		}
		snap := filepath.Join(dir, "snapshot.json") // uncompressed, so the secret scan below reads it
		if r = run(t, "snapshot", "--dsn", f.reader, "--out", snap); r.code != ExitOK {
			t.Fatalf("snapshot: exit %d: %s", r.code, r.stderr)
		}
		noSecrets(t, "snapshot output", r.stdout+r.stderr)
		if r = run(t, "advise", "--snapshot", snap, "--format", "json"); r.code != ExitOK {
			t.Fatalf("advise --snapshot: exit %d: %s", r.code, r.stderr)
		}
		noSecrets(t, "advise --snapshot output", r.stdout)
		migDir = filepath.Join(dir, "migrations")
		if r = run(t, "indexes", "generate", "--dsn", f.reader, "--dir", migDir); r.code != ExitOK {
			t.Fatalf("indexes generate: exit %d: %s", r.code, r.stderr)
		}
		noSecrets(t, "indexes generate output", r.stdout+r.stderr)
		after := f.rows(t)
		for k, calls := range rows {
			// The application's rows (booking_app's, and postgres's, which ran the app) are
			// untouched: pgtune's nested rows go under its own role.
			if !strings.HasPrefix(k, "pgtune_") && after[k] != calls {
				t.Errorf("the application's pg_stat_statements row %s went from %d to %d calls during pgtune's runs", k, calls, after[k])
			}
		}
		if now := f.indexScans(t); fmt.Sprint(now) != fmt.Sprint(scans) {
			for k, n := range now {
				if n != scans[k] {
					t.Errorf("idx_scan of %s went from %d to %d during pgtune's runs", k, scans[k], n)
				}
			}
		}

		// A superuser's sessions record nothing in pg_stat_statements (track = none for them).
		before := f.entries(t)
		for range 2 {
			if r = run(t, "advise", "--dsn", f.dbDSN("postgres", ""), "--format", "json"); r.code != ExitOK {
				t.Fatalf("advise as superuser: exit %d: %s", r.code, r.stderr)
			}
			noInternalFindings(t, r.stdout)
		}
		if n := f.entries(t); n-before > 2 {
			t.Errorf("two superuser runs added %d pg_stat_statements entries, want at most 2", n-before)
		}
		if f.major >= 15 {
			// The grant the check names does the same for a role that is not a superuser.
			exec1(t, f.admin, "GRANT SET ON PARAMETER pg_stat_statements.track TO pgtune_reader")
			before = f.entries(t)
			if r = run(t, "advise", "--dsn", f.reader, "--format", "json"); r.code != ExitOK {
				t.Fatalf("advise as reader with SET ON PARAMETER: exit %d: %s", r.code, r.stderr)
			}
			if n := f.entries(t); n-before > 2 {
				t.Errorf("a run with SET ON PARAMETER added %d pg_stat_statements entries, want at most 2", n-before)
			}
		}

		// Files rendered from the live server and the schedule emitters hold no secret.
		cfg, err := pgx.ParseConfig(f.reader)
		if err != nil {
			t.Fatal(err)
		}
		kv := fmt.Sprintf("host=%s port=%d dbname=booking user=pgtune_reader password=%s", cfg.Host, cfg.Port, kvPassword)
		for _, format := range []string{"conf", "sql"} {
			out := filepath.Join(dir, "pgtune."+format)
			r = run(t, "config", "--dsn", kv, "--memory", "8GB", "--cpus", "4", "--format", format, "--out", out)
			if r.code != ExitOK {
				t.Fatalf("config --format %s: exit %d: %s", format, r.code, r.stderr)
			}
			noSecrets(t, "config output", r.stdout+r.stderr)
		}
		for _, emit := range []string{"crontab", "systemd", "k8s"} {
			r = run(t, "maintain", "schedule", "--emit", emit, "--dsn", f.reader)
			if r.code != ExitOK {
				t.Errorf("schedule %s: exit %d: %s", emit, r.code, r.stderr)
			}
			noSecrets(t, "schedule "+emit, r.stdout+r.stderr)
			r = run(t, "maintain", "schedule", "--emit", emit, "--job", "drill", "--drill-args", "--base-backup /b --sentinel-dsn "+f.reader)
			if r.code != ExitUsage || !strings.Contains(r.stderr, "~/.pgpass") {
				t.Errorf("schedule %s with a password in --drill-args: exit %d: %s", emit, r.code, r.stderr)
			}
			noSecrets(t, "schedule "+emit+" (refused)", r.stdout+r.stderr)
		}
		noSecretsInDir(t, dir)
	})
}
