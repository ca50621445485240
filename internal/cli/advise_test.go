package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/pgtest"
	"github.com/bookedbarber/pgtune/query"
)

// adviseDoc is the part of advise's JSON the tests read.
type adviseDoc struct {
	SchemaVersion int    `json:"schema_version"`
	Command       string `json:"command"`
	Result        struct {
		Source struct {
			Kind string `json:"kind"`
		} `json:"source"`
		Workload struct {
			Statements int   `json:"statements"`
			Calls      int64 `json:"calls"`
		} `json:"workload"`
		Findings []findingDoc `json:"findings"`
	} `json:"result"`
}

type findingDoc struct {
	Rule       string         `json:"rule"`
	Kind       string         `json:"kind"`
	Live       bool           `json:"needs_live_planner"`
	Estimated  bool           `json:"estimated"`
	Severity   string         `json:"severity"`
	Table      string         `json:"table"`
	Title      string         `json:"title"`
	SQL        string         `json:"sql"`
	Action     string         `json:"action"`
	Evidence   map[string]any `json:"evidence"`
	Statements []struct {
		Fingerprint string `json:"fingerprint"`
		Calls       int64  `json:"calls"`
	} `json:"statements"`
	Index *struct {
		Table   string   `json:"table"`
		Name    string   `json:"name"`
		Method  string   `json:"method"`
		Columns []string `json:"columns"`
	} `json:"index"`
}

func advise(t *testing.T, args ...string) adviseDoc {
	t.Helper()
	r := run(t, append([]string{"advise", "--format", "json"}, args...)...)
	if r.code != ExitOK {
		t.Fatalf("advise %q: exit %d: %s", args, r.code, r.stderr)
	}
	var d adviseDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("advise --format json is not JSON: %v\n%s", err, r.stdout)
	}
	if d.Command != "advise" || d.SchemaVersion != 2 {
		t.Errorf("envelope: %+v", d)
	}
	return d
}

func exec1(t *testing.T, conn *pgx.Conn, sqls ...string) {
	t.Helper()
	for _, s := range sqls {
		if _, err := conn.Exec(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// The audit finds each planted problem, names the index, and leaves the sound ones alone.
func TestAdviseAuditFindsPlantedIndexes(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
		conn := db.Connect(t)
		exec1(t, conn,
			`CREATE TABLE dup (a int, b int)`,
			`CREATE INDEX dup_ab_1 ON dup (a, b)`,
			`CREATE INDEX dup_ab_2 ON dup (a, b)`,
			`CREATE TABLE pre (a int, b int, c int)`,
			`CREATE INDEX pre_abc ON pre (a, b, c)`,
			`CREATE INDEX pre_ab ON pre (a, b)`,
			`CREATE INDEX pre_b ON pre (b)`, // not a prefix of anything
			`CREATE TABLE pk (id bigint PRIMARY KEY, x int)`,
			`CREATE INDEX pk_id ON pk (id)`, // repeats the primary key
			`CREATE TABLE pk2 (x int, y int, PRIMARY KEY (x, y))`,
			`CREATE INDEX pk2_x ON pk2 (x)`, // a leading prefix of the primary key
			`CREATE TABLE inv (v int)`,
			`INSERT INTO inv VALUES (1), (1)`,
			`CREATE TABLE unused (id int PRIMARY KEY, v int, w int, u int UNIQUE)`,
			`INSERT INTO unused SELECT g, g, g, g FROM generate_series(1, 1000) g`,
			`CREATE INDEX unused_v ON unused (v)`,
			`CREATE INDEX used_w ON unused (w)`,
			`ANALYZE unused`,
		)
		// A failed CREATE UNIQUE INDEX CONCURRENTLY leaves an invalid index behind.
		if _, err := conn.Exec(t.Context(), `CREATE UNIQUE INDEX CONCURRENTLY inv_v ON inv (v)`); err == nil {
			t.Fatal("the unique build on duplicate values succeeded")
		}
		exec1(t, conn, `SET enable_seqscan = off`)
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM unused WHERE w = 5`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		waitForIndexScan(t, conn, "used_w")

		d := advise(t, "--dsn", db.DSN)
		got := map[string][]findingDoc{}
		for _, f := range d.Result.Findings {
			if f.Kind == "index" {
				got[f.Rule] = append(got[f.Rule], f)
			}
		}
		want := map[string][]string{
			"audit.index.duplicate": {"dup_ab_2 duplicates dup_ab_1", "pk_id duplicates pk_pkey"},
			"audit.index.prefix":    {"pre_ab is a leading prefix of pre_abc (index)", "pk2_x is a leading prefix of pk2_pkey (primary key)"},
			"audit.index.invalid":   {"inv_v is INVALID: a failed build left it behind"},
		}
		for rule, titles := range want {
			var have []string
			for _, f := range got[rule] {
				have = append(have, f.Title)
				if f.Index == nil || f.Index.Name == "" || !strings.HasPrefix(f.SQL, "DROP INDEX CONCURRENTLY IF EXISTS public.") {
					t.Errorf("%s: %q lacks its index or DROP: %+v", rule, f.Title, f)
				}
			}
			slices.Sort(have)
			slices.Sort(titles)
			if !slices.Equal(have, titles) {
				t.Errorf("%s: got %q, want %q", rule, have, titles)
			}
		}
		if inv := got["audit.index.invalid"]; len(inv) == 1 && !strings.Contains(inv[0].SQL, "CREATE UNIQUE INDEX CONCURRENTLY inv_v ON public.inv") {
			t.Errorf("invalid index fix: %s", inv[0].SQL)
		}
		var unused []string
		for _, f := range got["audit.index.unused"] {
			unused = append(unused, f.Index.Name)
		}
		// unused_v was never scanned; used_w was; primary keys, unique indexes and the planted
		// duplicates' survivors are either used by constraints or reported by other rules.
		if !slices.Contains(unused, "unused_v") || slices.Contains(unused, "used_w") || slices.Contains(unused, "unused_pkey") || slices.Contains(unused, "unused_u_key") {
			t.Errorf("unused indexes reported: %q", unused)
		}
	})
}

func waitForIndexScan(t *testing.T, conn *pgx.Conn, index string) {
	t.Helper()
	for range 100 {
		var scans int64
		if err := conn.QueryRow(context.Background(), "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = $1", index).Scan(&scans); err != nil {
			t.Fatal(err)
		}
		if scans > 0 {
			return
		}
		exec1(t, conn, "SELECT pg_sleep(0.1)")
	}
	t.Fatalf("%s still shows no scan", index)
}

// Every rewrite hint fires on a planted statement and stays quiet on its clean twin. Each
// statement runs on its own connection, left open, so pg_stat_activity holds its literal text.
func TestAdviseRewriteHints(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
		setup := db.Connect(t)
		exec1(t, setup,
			`CREATE TABLE bookings (id bigint PRIMARY KEY, user_id bigint, starts timestamptz NOT NULL, email text,
			phone text, name text, status text)`,
			`INSERT INTO bookings SELECT g, g % 100, now() + g * interval '1 hour', 'u' || g || '@example.com',
			'+1-555-' || g, 'name' || g, 'open' FROM generate_series(1, 2000) g`,
			`ANALYZE bookings`,
			`SELECT pg_stat_statements_reset()`,
		)
		type stmt struct {
			rule  string // the rule it must trigger; "" for a clean statement
			sql   string
			args  []any
			calls int
		}
		now := "2026-06-01"
		stmts := []stmt{
			{"rewrite.non_sargable", "SELECT count(*) FROM bookings WHERE date(starts) = $1", []any{now}, 3},
			{"rewrite.non_sargable", "SELECT count(*) FROM bookings WHERE starts + interval '1 hour' > $1", []any{now}, 3},
			{"rewrite.non_sargable", "SELECT count(*) FROM bookings WHERE starts::date >= $1", []any{now}, 3},
			{"", "SELECT count(*) FROM bookings WHERE starts >= $1 AND starts < $2", []any{now, now}, 3},
			{"rewrite.leading_wildcard", "SELECT id FROM bookings WHERE phone LIKE '%' || $1", []any{"1234"}, 3},
			{"", "SELECT id, name FROM bookings WHERE phone LIKE $1 || '%'", []any{"+1-555"}, 3},
			{"rewrite.ilike", "SELECT id FROM bookings WHERE name ILIKE $1", []any{"nam%"}, 3},
			{"", "SELECT id FROM bookings WHERE name LIKE 'nam%'", nil, 3},
			{"rewrite.or_across_columns", "SELECT id FROM bookings WHERE user_id = $1 OR email = $2", []any{1, "x"}, 3},
			{"", "SELECT id FROM bookings WHERE status IS NULL OR status = $1", []any{"open"}, 3},
			{"rewrite.offset_paging", "SELECT id FROM bookings WHERE user_id = $1 ORDER BY starts LIMIT 10 OFFSET 5000", []any{1}, 3},
			{"", "SELECT id, name FROM bookings WHERE user_id = $1 ORDER BY starts LIMIT 10 OFFSET 20", []any{1}, 3},
			{"rewrite.n_plus_one", "SELECT user_id, email FROM bookings WHERE id = $1", nil, 1500},
			{"", "SELECT user_id, email FROM bookings WHERE user_id = $1", []any{1}, 3},
		}
		for i, s := range stmts {
			conn := db.Connect(t)
			for k := range s.calls {
				args := s.args
				if args == nil && strings.Contains(s.sql, "$1") {
					args = []any{k + 1}
				}
				if _, err := conn.Exec(t.Context(), s.sql, args...); err != nil {
					t.Fatalf("statement %d: %v", i, err)
				}
			}
		}
		d := advise(t, "--dsn", db.DSN)
		fired := map[string][]string{} // fingerprint -> rewrite rules (index advice is another matter)
		for _, f := range d.Result.Findings {
			if !strings.HasPrefix(f.Rule, "rewrite.") {
				continue
			}
			for _, s := range f.Statements {
				fired[s.Fingerprint] = append(fired[s.Fingerprint], f.Rule)
			}
		}
		for _, s := range stmts {
			fp, err := query.Fingerprint(s.sql)
			if err != nil {
				t.Fatal(err)
			}
			rules := fired[fp]
			switch {
			case s.rule == "" && len(rules) > 0:
				t.Errorf("clean statement %q drew %q", s.sql, rules)
			case s.rule != "" && !slices.Contains(rules, s.rule):
				t.Errorf("planted statement %q drew %q, want %s", s.sql, rules, s.rule)
			}
		}
		for _, f := range d.Result.Findings {
			if f.Rule == "rewrite.non_sargable" && strings.HasPrefix(f.Title, "date(starts)") && !strings.Contains(f.Action, "starts >= $1::date AND starts < $1::date + 1") {
				t.Errorf("date() rewrite: %q", f.Action)
			}
			if f.Rule == "rewrite.offset_paging" && !strings.Contains(f.Action, "(starts, id) > ($last_starts, $last_id)") {
				t.Errorf("keyset hint: %q", f.Action)
			}
		}
	})
}

// A live run and a run on a snapshot of the same database give the same findings; a role with
// only pg_monitor can do both; a pg_dump --schema-only file plus a pg_stat_statements CSV export
// give the same rewrite hints.
func TestAdviseLiveSnapshotAndDumpAgree(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
		conn := db.Connect(t)
		if _, err := booking.Load(t.Context(), conn, booking.LoadOptions{Options: booking.Options{Scale: 0.05, Seed: 2}}); err != nil {
			t.Fatal(err)
		}
		exec1(t, conn, `CREATE INDEX appointments_barber_again ON appointments (barber_id)`, `SELECT pg_stat_statements_reset()`)
		cfg, err := pgx.ParseConfig(db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := booking.Run(t.Context(), cfg, booking.RunOptions{Actions: 1500, Clients: 3, Seed: 5}); err != nil {
			t.Fatal(err)
		}
		monitor := monitorRole(t, db)

		live := advise(t, "--dsn", monitor)
		path := filepath.Join(t.TempDir(), "booking.json.gz")
		r := run(t, "snapshot", "--dsn", monitor, "--out", path)
		if r.code != ExitOK || !strings.Contains(r.stdout, "Wrote "+path) {
			t.Fatalf("snapshot: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		offline := advise(t, "--snapshot", path)
		if offline.Result.Source.Kind != "snapshot" || live.Result.Source.Kind != "live" {
			t.Errorf("source kinds: %s, %s", live.Result.Source.Kind, offline.Result.Source.Kind)
		}
		if a, b := keys(live.Result.Findings), keys(offline.Result.Findings); !slices.Equal(a, b) {
			t.Errorf("live and snapshot findings differ:\nlive     %q\nsnapshot %q", a, b)
		}
		dup := false
		for _, f := range live.Result.Findings {
			// The planner uses one of the two equal indexes; the other is the one to drop.
			dup = dup || (f.Rule == "audit.index.duplicate" && strings.Contains(f.Title, "appointments_barber_again") && strings.Contains(f.Title, "appointments_barber_id_idx"))
		}
		if !dup {
			t.Errorf("the planted duplicate is missing: %q", keys(live.Result.Findings))
		}

		// The same database as files: pg_dump --schema-only and a CSV export of pg_stat_statements.
		// pg_dump of the server's own major, where the server runs: an older one refuses a newer server.
		dir := t.TempDir()
		schema := filepath.Join(dir, "schema.sql")
		out, err := db.Client(t.Context(), "pg_dump", "--schema-only")
		if err != nil {
			t.Fatalf("pg_dump: %v", err)
		}
		if err := os.WriteFile(schema, out, 0o600); err != nil {
			t.Fatal(err)
		}
		var csv bytes.Buffer
		if _, err := conn.PgConn().CopyTo(t.Context(), &csv, `COPY (SELECT * FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) TO STDOUT CSV HEADER`); err != nil {
			t.Fatal(err)
		}
		statements := filepath.Join(dir, "statements.csv")
		if err := os.WriteFile(statements, csv.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		dump := advise(t, "--schema", schema, "--statements", statements)
		var liveRewrites, dumpRewrites []string
		for _, k := range keys(live.Result.Findings) {
			if strings.HasPrefix(k, "rewrite.") || strings.HasPrefix(k, "audit.index.duplicate") || strings.HasPrefix(k, "audit.index.prefix") {
				liveRewrites = append(liveRewrites, k)
			}
		}
		for _, k := range keys(dump.Result.Findings) {
			if !strings.HasPrefix(k, "statistics.") {
				dumpRewrites = append(dumpRewrites, k)
			}
		}
		if len(liveRewrites) == 0 || !slices.Equal(liveRewrites, dumpRewrites) {
			t.Errorf("dump findings differ from the live ones:\nlive %q\ndump %q", liveRewrites, dumpRewrites)
		}
	})
}

// keys identifies findings by what they say, not by the numbers that move between two runs.
// Index recommendations are left out: the live planner's (needs_live_planner) an offline run cannot
// make, and estimated ones follow the workload's numbers, which move between two collections.
func keys(fs []findingDoc) []string {
	var out []string
	for _, f := range fs {
		if !f.Live && !f.Estimated {
			out = append(out, f.Rule+"|"+f.Table+"|"+f.Title)
		}
	}
	slices.Sort(out)
	return out
}

func monitorRole(t *testing.T, db *pgtest.DB) string {
	t.Helper()
	admin := db.Connect(t)
	name := "monitor_" + db.Name
	exec1(t, admin, "CREATE ROLE "+name+" LOGIN", "GRANT pg_monitor TO "+name)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), db.Server.AdminDSN)
		if err == nil {
			c.Exec(context.Background(), "DROP ROLE IF EXISTS "+name)
			c.Close(context.Background())
		}
	})
	cfg, err := pgx.ParseConfig(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", name, cfg.Host, cfg.Port, db.Name)
}

// Bad input ends with one line on stderr, exit 2 (usage) or 3 (could not run), and nothing on
// stdout.
func TestAdviseAndSnapshotBadInput(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		dir := t.TempDir()
		write := func(name, content string) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		goodCSV := write("ok.csv", "queryid,query,calls,total_exec_time\n1,SELECT 1,3,2.5\n")
		goodSchema := write("ok.sql", "CREATE TABLE t (id int PRIMARY KEY);\n")
		t.Setenv("PGCONNECT_TIMEOUT", "2")
		cases := []struct {
			args []string
			code int
			msg  string
		}{
			{[]string{"advise", "--snapshot", filepath.Join(dir, "missing.json")}, ExitFailed, "no such file or directory"},
			{[]string{"advise", "--snapshot", write("bad.json", `{"format": "pgtune-snapshot", "version": 1, `)}, ExitFailed, "ends early"},
			{[]string{"advise", "--snapshot", write("garbage.json", "hello")}, ExitFailed, "invalid JSON at byte"},
			{[]string{"advise", "--snapshot", write("other.json", `{"format": "something-else", "version": 1}`)}, ExitFailed, `format "something-else"`},
			{[]string{"advise", "--snapshot", write("future.json", `{"format": "pgtune-snapshot", "version": 99, "pgtune_version": "v9"}`)}, ExitFailed, "upgrade pgtune"},
			{[]string{"advise", "--snapshot", write("types.json", `{"format": "pgtune-snapshot", "version": 1, "tables": "x"}`)}, ExitFailed, "field tables"},
			{[]string{"advise", "--schema", write("bad.sql", "CREATE TABLE t (id int PRIMARY KEY);\nCREATE TABLE oops (;\n"), "--statements", goodCSV}, ExitFailed, "line 2: syntax error"},
			{[]string{"advise", "--schema", write("empty.sql", "SET x = 1;\n"), "--statements", goodCSV}, ExitFailed, "creates no tables"},
			{[]string{"advise", "--schema", goodSchema, "--statements", write("cols.csv", "queryid,query\n1,SELECT 1\n")}, ExitFailed, "lacks column(s) calls, total_exec_time"},
			{[]string{"advise", "--schema", goodSchema, "--statements", write("num.csv", "queryid,query,calls,total_exec_time\n1,SELECT 1,many,2\n")}, ExitFailed, "calls is \"many\""},
			{[]string{"advise", "--schema", goodSchema, "--statements", write("dbs.csv", "dbid,queryid,query,calls,total_exec_time\n1,1,SELECT 1,1,1\n2,2,SELECT 2,1,1\n")}, ExitFailed, "holds rows of 2 databases"},
			{[]string{"advise", "--schema", goodSchema}, ExitUsage, "--schema and --statements go together"},
			{[]string{"advise", "--demo", "--dsn", "postgres://x@127.0.0.1:1/y"}, ExitUsage, "choose one source"},
			{[]string{"advise", "--top", "0", "--demo"}, ExitUsage, "--top must be at least 1"},
			{[]string{"advise", "--planner-sessions", "0", "--demo"}, ExitUsage, "--planner-sessions must be at least 1"},
			{[]string{"indexes", "generate", "--dir", dir + "/m", "--planner-sessions", "-1", "--demo"}, ExitUsage, "--planner-sessions must be at least 1"},
			{[]string{"advise", "--demo", "--replica-dsn", "postgres://x@127.0.0.1:1/y"}, ExitUsage, "--replica-dsn reads replicas beside a live primary"},
			{[]string{"advise", "--dsn", "postgres://x@127.0.0.1:1/y", "--replica-dsn", "postgres://x:s3cretpw@127.0.0.1:1/y?sslmode=bogus"}, ExitUsage, "--replica-dsn"},
			{[]string{"advise", "--dsn", "postgres://app:s3cretpw@127.0.0.1:1/booking?sslmode=disable"}, ExitFailed, "cannot connect to app@127.0.0.1:1/booking"},
			{[]string{"snapshot", "--demo"}, ExitUsage, "flag provided but not defined"},
			{[]string{"snapshot"}, ExitUsage, "--out FILE is required"},
			{[]string{"snapshot", "--out", dir}, ExitUsage, "is a directory"},
		}
		for _, c := range cases {
			r := run(t, c.args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.msg) || r.stdout != "" {
				t.Errorf("pgtune %q: exit %d, stdout %q, stderr %q; want exit %d and %q", c.args, r.code, r.stdout, r.stderr, c.code, c.msg)
			}
			if strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("pgtune %q: error is not one line: %q", c.args, r.stderr)
			}
			if strings.Contains(r.stderr, "s3cretpw") {
				t.Errorf("password printed: %q", r.stderr)
			}
		}

		// A database without pg_stat_statements: the error names the fix.
		db := pgtest.New(t)
		r := run(t, "advise", "--dsn", db.DSN)
		if r.code != ExitFailed || !strings.Contains(r.stderr, "CREATE EXTENSION pg_stat_statements") || r.stdout != "" {
			t.Errorf("no extension: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		// A snapshot that cannot be written leaves nothing behind.
		target := filepath.Join(dir, "no-such-dir", "s.json")
		r = run(t, "snapshot", "--dsn", db.DSN, "--out", target)
		if r.code != ExitFailed || r.stdout != "" {
			t.Errorf("unwritable snapshot: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
}

// With the instance's size, advise compares the settings with pgtune config's; without it, it
// does not guess.
func TestAdviseSettingsWithInstance(t *testing.T) {
	r := run(t, "advise", "--demo", "--no-indexes", "--memory", "16GB", "--cpus", "4", "--format", "json")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var doc struct {
		Result struct {
			Findings []struct {
				Rule, Kind, Severity, SQL string
			} `json:"findings"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	rules := map[string]string{}
	for _, f := range doc.Result.Findings {
		if f.Kind == "settings" {
			rules[f.Rule] = f.SQL
		}
	}
	if sql, ok := rules["settings.differs.memory"]; !ok || !strings.Contains(sql, "ALTER SYSTEM SET shared_buffers = '4GB';") {
		t.Errorf("settings findings %v", rules)
	}
	r = run(t, "advise", "--demo", "--no-indexes", "--format", "json")
	if strings.Contains(r.stdout, `"settings.differs.`) {
		t.Error("settings compared without knowing the instance's size")
	}
	if r := run(t, "advise", "--demo", "--memory", "16"); r.code != ExitUsage || !strings.Contains(r.stderr, "--memory 16 needs a unit") {
		t.Errorf("advise --memory 16: exit %d, %s", r.code, r.stderr)
	}
}

// A finding the live planner proved says so on a live run; offline, that it needs one.
func TestFindingDetailLivePlannerNote(t *testing.T) {
	f := finding.Finding{Rule: "index.create", Title: "create x", NeedsLivePlanner: true}
	note := func(live bool) string {
		for _, kv := range findingDetail(1, f, live).Fields {
			if kv[0] == "note" {
				return kv[1]
			}
		}
		return ""
	}
	if got := note(true); strings.Contains(got, "rerun") || !strings.Contains(got, "proved by this server's planner") {
		t.Errorf("live: %q", got)
	}
	if got := note(false); !strings.Contains(got, "rerun against the database") {
		t.Errorf("offline: %q", got)
	}
}
