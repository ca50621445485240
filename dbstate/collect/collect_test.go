package collect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestStatementsSQLFollowsTheExtensionVersion(t *testing.T) {
	cases := []struct {
		minor       int
		has, hasNot []string
	}{
		{8, []string{"s.blk_read_time", "s.blk_write_time", "NULL::timestamptz", "s.total_exec_time"}, []string{"s.toplevel", "shared_blk_read_time", "s.stats_since"}},
		{9, []string{"s.toplevel", "s.blk_read_time"}, []string{"shared_blk_read_time", "s.stats_since"}},
		{10, []string{"s.toplevel", "s.blk_read_time"}, []string{"shared_blk_read_time"}},
		{11, []string{"s.toplevel", "s.shared_blk_read_time", "s.shared_blk_write_time", "s.stats_since"}, []string{"s.blk_read_time"}},
		{12, []string{"s.toplevel", "s.shared_blk_read_time", "s.stats_since"}, []string{"s.blk_read_time"}},
	}
	for _, c := range cases {
		q := statementsSQL(c.minor, `"ext"`)
		for _, h := range c.has {
			if !strings.Contains(q, h) {
				t.Errorf("1.%d: query lacks %s", c.minor, h)
			}
		}
		for _, h := range c.hasNot {
			if strings.Contains(q, h) {
				t.Errorf("1.%d: query has %s", c.minor, h)
			}
		}
		if !strings.Contains(q, `FROM "ext".pg_stat_statements(true)`) || !strings.HasPrefix(q, "/* pgtune */") {
			t.Errorf("1.%d: query is not schema-qualified or not marked: %s", c.minor, q)
		}
	}
}

// plant creates a small schema and runs a few statements so pg_stat_statements has rows.
func plant(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	ctx := t.Context()
	for _, sql := range []string{
		`CREATE TABLE shops (id bigint PRIMARY KEY, slug text NOT NULL UNIQUE)`,
		`CREATE TABLE visits (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, shop_id bigint NOT NULL REFERENCES shops,
			at timestamptz NOT NULL DEFAULT now(), email text COLLATE "C", status text NOT NULL, note text)`,
		`CREATE INDEX visits_shop_at ON visits (shop_id, at DESC) INCLUDE (status) WHERE status = 'open'`,
		`CREATE INDEX visits_lower_email ON visits (lower(email) text_pattern_ops)`,
		`CREATE INDEX visits_email_c ON visits (email COLLATE "POSIX" NULLS FIRST)`,
		`CREATE TABLE events (at timestamptz NOT NULL, kind text) PARTITION BY RANGE (at)`,
		`CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`,
		`CREATE INDEX events_at ON events (at)`,
		`CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
		`CREATE TRIGGER visits_touch BEFORE UPDATE ON visits FOR EACH ROW EXECUTE FUNCTION touch()`,
		`INSERT INTO shops SELECT g, 'shop-' || g FROM generate_series(1, 50) g`,
		`INSERT INTO visits (shop_id, email, status) SELECT 1 + g % 50, 'u' || g || '@example.com', CASE WHEN g % 10 = 0 THEN 'open' ELSE 'closed' END FROM generate_series(1, 2000) g`,
		`ANALYZE shops`, `ANALYZE visits`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	for i := range 5 {
		if _, err := conn.Exec(ctx, "SELECT id FROM visits WHERE shop_id = $1 AND status = 'open'", i); err != nil {
			t.Fatal(err)
		}
	}
	pgtest.WaitForStats(t, conn, "visits", 2000)
}

// installableVersions are the versions of ext the server can install, from the oldest one pgtune
// reads (from) up, in order.
func installableVersions(t *testing.T, db *pgtest.DB, ext, from string) []string {
	t.Helper()
	rows, err := db.Connect(t).Query(t.Context(), "SELECT version FROM pg_available_extension_versions WHERE name = $1 AND string_to_array(version, '.')::int[] >= string_to_array($2, '.')::int[] ORDER BY string_to_array(version, '.')::int[]", ext, from)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func collectOn(t *testing.T, dsn string, o Options) (*dbstate.Snapshot, error) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	return Collect(t.Context(), conn, o)
}

// Each pg_stat_statements version the server's packages can install (from 1.8, PostgreSQL 13's, to
// 1.12, 18's) is read with the columns it has: CREATE EXTENSION ... VERSION installs the old
// version for real.
func TestCollectAcrossExtensionVersions(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		versions := installableVersions(t, pgtest.New(t), "pg_stat_statements", "1.8")
		want := map[int]string{13: "1.8", 15: "1.10", 17: "1.11", 18: "1.12"}[pgtest.MajorOf(t)]
		if want != "" && !slices.Contains(versions, want) {
			t.Fatalf("PostgreSQL %d offers pg_stat_statements %v, want %s among them", pgtest.MajorOf(t), versions, want)
		}
		for _, v := range versions {
			t.Run(v, func(t *testing.T) {
				db := pgtest.New(t)
				conn := db.Connect(t)
				if _, err := conn.Exec(t.Context(), "CREATE EXTENSION pg_stat_statements VERSION '"+v+"'"); err != nil {
					t.Fatal(err)
				}
				plant(t, conn)
				snap, err := collectOn(t, db.DSN, Options{})
				if err != nil {
					t.Fatal(err)
				}
				st := snap.Statements
				if st.ExtensionVersion != v || st.Max <= 0 {
					t.Errorf("extension version %q, max %d", st.ExtensionVersion, st.Max)
				}
				found := false
				for _, r := range st.Rows {
					if strings.Contains(r.Query, "FROM visits WHERE shop_id = $1") {
						found = r.Calls == 5 && r.TotalExecMs > 0 && r.QueryID != 0
					}
					if strings.HasPrefix(r.Query, "/* pgtune */") {
						t.Errorf("pgtune's own statement in the rows: %s", r.Query)
					}
				}
				if !found {
					t.Errorf("the planted statement (5 calls) is missing from %d rows", len(st.Rows))
				}
				if v == "1.8" && (st.Dealloc != -1 || st.StatsReset != nil) {
					t.Errorf("1.8 has no pg_stat_statements_info, yet dealloc %d reset %v", st.Dealloc, st.StatsReset)
				}
				if v != "1.8" && (st.Dealloc < 0 || st.StatsReset == nil) {
					t.Errorf("%s: dealloc %d, stats reset %v", v, st.Dealloc, st.StatsReset)
				}
			})
		}
	})
}

func TestCollectCatalog(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
		plant(t, db.Connect(t))
		snap, err := collectOn(t, db.DSN, Options{})
		if err != nil {
			t.Fatal(err)
		}
		// The installed extensions carry the version the server's packages offer; the available
		// ones are those not installed.
		if e := snap.Extension("pg_stat_statements"); e == nil || e.Version == "" || e.Default == "" || e.Schema != "public" {
			t.Errorf("pg_stat_statements: %+v", e)
		}
		if slices.Contains(snap.AvailableExtensions, "pg_stat_statements") || !slices.Contains(snap.AvailableExtensions, "pg_trgm") {
			t.Errorf("available extensions %v: want pg_trgm, not the installed pg_stat_statements", snap.AvailableExtensions)
		}
		cat := dbstate.NewCatalog(snap)
		visits := cat.Table("visits")
		if visits == nil || visits.Kind != "table" || len(visits.Columns) != 6 || visits.Stats == nil || visits.Stats.Inserts != 2000 {
			t.Fatalf("visits: %+v", visits)
		}
		if c := visits.Column("id"); c == nil || c.Generated != "identity" || !c.NotNull || c.Type != "bigint" {
			t.Errorf("visits.id: %+v", c)
		}
		if c := visits.Column("at"); c == nil || c.Type != "timestamp with time zone" || c.Default != "now()" {
			t.Errorf("visits.at: %+v", c)
		}
		if ev := cat.Table("events"); ev == nil || ev.Kind != "partitioned" {
			t.Errorf("events: %+v", ev)
		}
		if p := cat.Table("events_2026"); p == nil || p.Parent != "public.events" {
			t.Errorf("events_2026: %+v", p)
		}
		if ix := cat.Indexes("public.events"); len(ix) != 1 || !ix[0].Partitioned || ix[0].SizeBytes != 0 {
			t.Errorf("events' index: %+v", ix)
		}
		if ix := cat.Indexes("public.events_2026"); len(ix) != 1 || !ix[0].Attached || ix[0].Partitioned {
			t.Errorf("events_2026's index: %+v", ix)
		}
		idx := map[string]*dbstate.Index{}
		for _, ix := range cat.Indexes("public.visits") {
			idx[ix.Name] = ix
		}
		want := map[string]string{
			"visits_pkey":        "id",
			"visits_shop_at":     "shop_id, at DESC",
			"visits_lower_email": "(lower(email)) text_pattern_ops",
			"visits_email_c":     `email COLLATE "POSIX" NULLS FIRST`,
		}
		for name, keys := range want {
			ix := idx[name]
			if ix == nil {
				t.Errorf("index %s missing", name)
				continue
			}
			var got []string
			for _, k := range ix.Keys {
				got = append(got, k.String())
			}
			if strings.Join(got, ", ") != keys {
				t.Errorf("%s keys = %q, want %q", name, strings.Join(got, ", "), keys)
			}
			if !ix.Valid || ix.SizeBytes <= 0 || ix.Method != "btree" || ix.Definition == "" {
				t.Errorf("%s: %+v", name, ix)
			}
		}
		if ix := idx["visits_shop_at"]; ix != nil && (!slices.Equal(ix.Include, []string{"status"}) || ix.Predicate != "status = 'open'::text") {
			t.Errorf("visits_shop_at include %v predicate %q", ix.Include, ix.Predicate)
		}
		if ix := idx["visits_pkey"]; ix != nil && (!ix.Primary || !ix.Unique || ix.Constraint != "visits_pkey") {
			t.Errorf("visits_pkey: %+v", ix)
		}
		var fk *dbstate.Constraint
		for _, c := range cat.Constraints("public.visits") {
			if c.Type == "foreign_key" {
				fk = c
			}
		}
		if fk == nil || fk.References != "public.shops" || !slices.Equal(fk.Columns, []string{"shop_id"}) || !slices.Equal(fk.RefColumns, []string{"id"}) {
			t.Errorf("foreign key: %+v", fk)
		}
		if len(snap.Triggers) != 1 || snap.Triggers[0].Name != "visits_touch" || !snap.Triggers[0].Enabled {
			t.Errorf("triggers: %+v", snap.Triggers)
		}
		if cs := cat.ColumnStat("public.visits", "status"); cs == nil || !slices.Contains(cs.MostCommonVals, "closed") || cs.NDistinct != 2 {
			t.Errorf("pg_stats for visits.status: %+v", cs)
		}
		if len(snap.Gaps) != 0 {
			t.Errorf("a superuser's snapshot has gaps: %+v", snap.Gaps)
		}
		if v, ok := snap.Setting("track_io_timing"); !ok || v != "on" {
			t.Errorf("settings: track_io_timing %q %v", v, ok)
		}

		noValues, err := collectOn(t, db.DSN, Options{NoValues: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, cs := range noValues.ColumnStats {
			if len(cs.MostCommonVals) > 0 || len(cs.HistogramBounds) > 0 {
				t.Fatalf("NoValues kept values of %s.%s", cs.Table, cs.Column)
			}
		}
	})
}

// role creates a login role for the test and drops it afterwards.
func role(t *testing.T, db *pgtest.DB, name string, grants ...string) string {
	t.Helper()
	admin := db.Connect(t)
	name = name + "_" + db.Name
	if _, err := admin.Exec(t.Context(), fmt.Sprintf("CREATE ROLE %s LOGIN", name)); err != nil {
		t.Fatal(err)
	}
	for _, g := range grants {
		if _, err := admin.Exec(t.Context(), fmt.Sprintf(g, name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), db.Server.AdminDSN)
		if err == nil {
			c.Exec(context.Background(), "DROP OWNED BY "+name+" CASCADE")
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

// A monitoring role (pg_monitor, no table privileges, no write rights) can collect: it sees the
// catalog, every role's statements and the usage counters; pg_stats hides the columns it may not
// SELECT, which the snapshot records as a gap instead of failing.
func TestCollectAsMonitoringRole(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
		plant(t, db.Connect(t))
		dsn := role(t, db, "monitor", "GRANT pg_monitor TO %s")
		snap, err := collectOn(t, dsn, Options{})
		if err != nil {
			t.Fatalf("a pg_monitor role cannot collect: %v", err)
		}
		if len(snap.Tables) < 3 || len(snap.Indexes) < 5 || !snap.Server.ReadAllStats {
			t.Errorf("tables %d, indexes %d, read_all_stats %v", len(snap.Tables), len(snap.Indexes), snap.Server.ReadAllStats)
		}
		if snap.Statements.Hidden != 0 || len(snap.Statements.Rows) == 0 {
			t.Errorf("pg_monitor sees every role's statements, yet hidden %d of %d", snap.Statements.Hidden, len(snap.Statements.Rows))
		}
		if len(snap.Gaps) != 1 || snap.Gaps[0].What != "column_stats" || !strings.Contains(snap.Gaps[0].Reason, "pg_read_all_data") {
			t.Errorf("gaps: %+v", snap.Gaps)
		}
		cat := dbstate.NewCatalog(snap)
		if v := cat.Table("visits"); v == nil || v.Stats == nil || v.Stats.Inserts != 2000 || v.SizeBytes <= 0 {
			t.Errorf("visits as seen by pg_monitor: %+v", v)
		}
		// The server-wide evidence for settings is readable by a monitoring role too.
		a := snap.Activity
		if a == nil || a.CheckpointsSince == nil || a.DatabaseSince == nil || a.BlocksHit <= 0 || a.ClientBackends < 1 ||
			a.OldestXIDAge <= 0 || a.OldestXIDDatabase == "" || (snap.Server.VersionNum >= 140000 && a.WALBytes <= 0) {
			t.Errorf("server activity as seen by pg_monitor: %+v", a)
		}
	})
}

// The collecting session sets statement_timeout, lock_timeout and jit for itself (SET LOCAL);
// the snapshot still holds the values the application's sessions get.
func TestCollectReportsTheServersSettings(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t)
		conn := db.Connect(t)
		for _, set := range []string{"statement_timeout = '7s'", "lock_timeout = '3s'", "jit = on", "work_mem = '5MB'"} {
			if _, err := conn.Exec(t.Context(), "ALTER DATABASE "+db.Name+" SET "+set); err != nil {
				t.Fatal(err)
			}
		}
		snap, err := collectOn(t, db.DSN, Options{StatementTimeout: 30 * time.Second, CatalogOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"statement_timeout": "7000", "lock_timeout": "3000", "jit": "on", "work_mem": "5120"}
		for _, st := range snap.Settings {
			if v, ok := want[st.Name]; ok {
				if st.Setting != v {
					t.Errorf("%s = %q, want the database's %q", st.Name, st.Setting, v)
				}
				if st.Source == "session" {
					t.Errorf("%s: source is pgtune's own session", st.Name)
				}
				delete(want, st.Name)
			}
		}
		if len(want) != 0 {
			t.Errorf("not collected: %v", want)
		}
	})
}

// Without pg_read_all_stats, other roles' statements are counted as hidden, not dropped.
func TestCollectCountsHiddenStatements(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
		plant(t, db.Connect(t))
		dsn := role(t, db, "plain")
		snap, err := collectOn(t, dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		st := snap.Statements
		if st.Hidden == 0 || st.HiddenCalls < 5 || snap.Server.ReadAllStats {
			t.Errorf("hidden rows %d calls %d read_all_stats %v", st.Hidden, st.HiddenCalls, snap.Server.ReadAllStats)
		}
		for _, r := range st.Rows {
			if strings.Contains(r.Query, "visits") {
				t.Errorf("another role's statement is visible: %s", r.Query)
			}
		}
	})
}

func TestCollectWithoutPgStatStatements(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t)
		_, err := collectOn(t, db.DSN, Options{})
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "CREATE EXTENSION pg_stat_statements") {
			t.Errorf("err = %v", err)
		}
	})
}

// pg_stat_activity keeps each session's last statement as it was sent: the literal constants
// pg_stat_statements normalises away are in the sample.
func TestSampleActivityKeepsLiterals(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
		app := db.Connect(t)
		plant(t, app)
		if _, err := app.Exec(t.Context(), "SELECT id FROM visits WHERE shop_id = $1 AND status = 'open' LIMIT 5", 7); err != nil {
			t.Fatal(err)
		}
		snap, err := collectOn(t, db.DSN, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(snap.Statements.Samples, "SELECT id FROM visits WHERE shop_id = $1 AND status = 'open' LIMIT 5") {
			t.Errorf("samples %q lack the application's last statement", snap.Statements.Samples)
		}
		for _, s := range snap.Statements.Samples {
			if strings.HasPrefix(s, "/* pgtune */") {
				t.Errorf("pgtune sampled itself: %s", s)
			}
		}
		quiet, err := collectOn(t, db.DSN, Options{NoValues: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(quiet.Statements.Samples) != 0 {
			t.Errorf("NoValues kept %d samples", len(quiet.Statements.Samples))
		}
	})
}
