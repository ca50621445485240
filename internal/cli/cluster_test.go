package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// clusterReport is what the cluster tests read of advise's JSON.
type clusterReport struct {
	Result struct {
		Source struct {
			Gaps []struct{ What, Reason string } `json:"gaps"`
		} `json:"source"`
		Findings []struct {
			Rule     string         `json:"rule"`
			Title    string         `json:"title"`
			SQL      string         `json:"sql"`
			Evidence map[string]any `json:"evidence"`
			Index    *struct {
				Name    string   `json:"name"`
				Columns []string `json:"columns"`
			} `json:"index"`
			Statements []struct {
				Nodes []struct {
					Node  string `json:"node"`
					Calls int64  `json:"calls"`
				} `json:"nodes"`
			} `json:"statements"`
		} `json:"findings"`
	} `json:"result"`
}

// On a real cluster (a primary and two streaming replicas), the read traffic the replicas serve
// counts: an index only replica reads use is never called unused nor dropped, a statement hot on
// a replica only gets its index, and a replica that cannot be reached leaves the report partial
// (the gap named, no index called unused), not wrong. Without the replicas' DSNs, replicas seen
// streaming from the primary make every "unused" unknown.
func TestClusterAdvise(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		c := pgtest.NewCluster(t, pgtest.ClusterOptions{})
		ctx := t.Context()
		p := bookingDB(t, c,
			"CREATE EXTENSION pg_stat_statements",
			"CREATE EXTENSION hypopg",
			`CREATE TABLE appointments (id bigint PRIMARY KEY, barber_id int NOT NULL, client_id int NOT NULL,
				start_time timestamptz NOT NULL, status text NOT NULL)`,
			`INSERT INTO appointments SELECT g, g % 200, g % 5000, '2026-01-01'::timestamptz + g * interval '7 minutes',
				CASE WHEN g % 10 = 0 THEN 'cancelled' ELSE 'booked' END FROM generate_series(1, 60000) g`,
			"CREATE INDEX appointments_client_idx ON appointments (client_id)",
			"VACUUM ANALYZE appointments",
		)
		c.WaitReplay(t)
		nodes := append([]*pgtest.Node{c.Primary}, c.Replicas...)
		for _, n := range nodes {
			conn := n.Connect(t, "booking")
			for _, sql := range []string{"SELECT pg_stat_statements_reset()", "SELECT pg_stat_reset()"} {
				if _, err := conn.Exec(ctx, sql); err != nil {
					t.Fatalf("%s: %s: %v", n.Name, sql, err)
				}
			}
		}
		// The application: writes on the primary; a client's history on replica1 (through
		// appointments_client_idx); a barber's calendar on replica2 only, with no index for it.
		for i := range 200 {
			if _, err := p.Exec(ctx, "UPDATE appointments SET status = $1 WHERE id = $2", "booked", i+1); err != nil {
				t.Fatal(err)
			}
		}
		r1, r2 := c.Replicas[0].Connect(t, "booking"), c.Replicas[1].Connect(t, "booking")
		for i := range 300 {
			rows, err := r1.Query(ctx, "SELECT id, start_time FROM appointments WHERE client_id = $1", i)
			if err != nil {
				t.Fatal(err)
			}
			rows.Close()
			rows, err = r2.Query(ctx, "SELECT id, client_id FROM appointments WHERE barber_id = $1 AND start_time >= $2 ORDER BY start_time LIMIT 20",
				i%200, "2026-03-01")
			if err != nil {
				t.Fatal(err)
			}
			rows.Close()
		}
		// A fresh session reads the counters: the one that scanned may hold its own for up to 10 s.
		pgtest.WaitForIndexScans(t, c.Replicas[0].Connect(t, "booking"), "appointments")
		dsn := c.Primary.DSN("booking")
		replicaArgs := []string{"--replica-dsn", c.Replicas[0].DSN("booking"), "--replica-dsn", c.Replicas[1].DSN("booking") + "&connect_timeout=3"}
		advise := func(extra ...string) clusterReport {
			t.Helper()
			r := run(t, append([]string{"advise", "--dsn", dsn, "--format", "json"}, extra...)...)
			if r.code != ExitOK && r.code != ExitFindings {
				t.Fatalf("advise %q: exit %d: %s", extra, r.code, r.stderr)
			}
			var rep clusterReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("advise's JSON: %v", err)
			}
			return rep
		}
		unusedFinding := func(rep clusterReport) (found bool, sql string) {
			for _, f := range rep.Result.Findings {
				if f.Rule == "audit.index.unused" && f.Index != nil && f.Index.Name == "appointments_client_idx" {
					return true, f.SQL
				}
			}
			return false, ""
		}

		// With the replicas: the client index is used (on replica1), the calendar gets its index.
		rep := advise(replicaArgs...)
		if found, _ := unusedFinding(rep); found {
			t.Error("appointments_client_idx, used by replica1's reads, is called unused")
		}
		calendar := false
		for _, f := range rep.Result.Findings {
			if f.Rule == "index.create" && f.Index != nil && len(f.Index.Columns) > 0 && f.Index.Columns[0] == "barber_id" {
				calendar = true
				// Its evidence says where the statement runs: replica2 only.
				u, _ := url.Parse(c.Replicas[1].AdminDSN)
				if len(f.Statements) != 1 || len(f.Statements[0].Nodes) != 1 || f.Statements[0].Nodes[0].Calls < 300 ||
					f.Statements[0].Nodes[0].Node != u.Host {
					t.Errorf("the calendar's index: statements %+v, want the calendar on replica2 only", f.Statements)
				}
			}
		}
		if !calendar {
			t.Errorf("no index proposed for replica2's calendar; findings: %v", clusterRules(rep))
		}
		if len(rep.Result.Source.Gaps) != 0 {
			t.Errorf("gaps with every node readable: %+v", rep.Result.Source.Gaps)
		}
		dir := t.TempDir()
		r := run(t, append([]string{"indexes", "generate", "--dsn", dsn, "--dir", dir, "--include-drops"}, replicaArgs...)...)
		if r.code != ExitOK {
			t.Fatalf("indexes generate: exit %d: %s", r.code, r.stderr)
		}
		if files := migrationFiles(t, dir); !strings.Contains(files, "barber_id") || strings.Contains(files, "drop_appointments_client_idx") {
			t.Errorf("indexes generate with the replicas wrote %s", files)
		}

		// Without them: the primary sees two replicas streaming, so "unused" is unknown and
		// nothing is dropped.
		rep = advise()
		if found, sql := unusedFinding(rep); !found || sql != "" {
			t.Errorf("without the replicas: unused finding %v with SQL %q, want one without a drop", found, sql)
		}
		dir = t.TempDir()
		if r := run(t, "indexes", "generate", "--dsn", dsn, "--dir", dir, "--include-drops"); r.code != ExitOK || strings.Contains(migrationFiles(t, dir), "drop_appointments_client_idx") {
			t.Errorf("indexes generate without the replicas: exit %d, files %s, %s", r.code, migrationFiles(t, dir), r.stderr)
		}

		// replica2 hanging (frozen: its connection open, nothing answering): its read is bounded,
		// the report partial with the gap named, exit 0.
		c.Pause(t, c.Replicas[1])
		began := time.Now()
		rep = advise(append(replicaArgs, "--statement-timeout", "2s")...)
		if took := time.Since(began); len(rep.Result.Source.Gaps) != 1 || !strings.HasPrefix(rep.Result.Source.Gaps[0].What, "replica ") || took > time.Minute {
			t.Errorf("gaps with replica2 frozen (after %v): %+v", took, rep.Result.Source.Gaps)
		}
		c.Unpause(t, c.Replicas[1])

		// replica2 gone (cut off every network): the report is partial, the gap named, exit 0.
		c.Isolate(t, c.Replicas[1])
		rep = advise(replicaArgs...)
		if len(rep.Result.Source.Gaps) != 1 || !strings.HasPrefix(rep.Result.Source.Gaps[0].What, "replica ") {
			t.Errorf("gaps with replica2 isolated: %+v", rep.Result.Source.Gaps)
		}
		if found, sql := unusedFinding(rep); found && sql != "" {
			t.Error("with a replica unread, an index is dropped as unused")
		}

		// replica1 promoted (a failover): it is refused as a replica, by name, not read as one.
		if _, err := c.Replicas[0].Connect(t, "booking").Exec(ctx, "SELECT pg_promote()"); err != nil {
			t.Fatal(err)
		}
		rep = advise(replicaArgs...)
		promoted := false
		for _, g := range rep.Result.Source.Gaps {
			promoted = promoted || strings.Contains(g.Reason, "is not in recovery")
		}
		if len(rep.Result.Source.Gaps) != 2 || !promoted {
			t.Errorf("gaps with replica1 promoted and replica2 isolated: %+v", rep.Result.Source.Gaps)
		}
	})
}

// bookingDB creates database booking on the cluster's primary, runs setup there, and returns a
// connection to it.
func bookingDB(t *testing.T, c *pgtest.Cluster, setup ...string) *pgx.Conn {
	t.Helper()
	c.CreateDatabase(t, "booking")
	p := c.Primary.Connect(t, "booking")
	for _, sql := range setup {
		if _, err := p.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	return p
}

func clusterRules(rep clusterReport) []string {
	var out []string
	for _, f := range rep.Result.Findings {
		out = append(out, f.Rule+": "+f.Title)
	}
	return out
}

func migrationFiles(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, filepath.Base(e.Name()))
	}
	return strings.Join(names, " ")
}

// The replication findings fire on conditions planted on a real cluster and stay quiet
// otherwise: an inactive slot keeping WAL, queries a replica without feedback cancels to keep
// replaying (max_standby_streaming_delay = 1s), and a replica whose replay is paused.
func TestClusterReplicationFindings(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		// No feedback from either replica: replica1's would hold the primary's xmin horizon back
		// to its last report (every 10 s), and VACUUM would remove nothing for replica2 to conflict on.
		c := pgtest.NewCluster(t, pgtest.ClusterOptions{ReplicaConf: []string{
			"hot_standby_feedback = off\n", "hot_standby_feedback = off\nmax_standby_streaming_delay = 1s\n"}})
		c.CreateDatabase(t, "app")
		ctx := t.Context()
		p := c.Primary.Connect(t, "app")
		for _, sql := range []string{"CREATE EXTENSION pg_stat_statements", "CREATE TABLE t (a int, b text)",
			"INSERT INTO t SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g", "VACUUM ANALYZE t"} {
			if _, err := p.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		c.WaitReplay(t)
		args := []string{"advise", "--dsn", c.Primary.DSN("app"), "--no-indexes", "--format", "json",
			"--replica-dsn", c.Replicas[0].DSN("app"), "--replica-dsn", c.Replicas[1].DSN("app")}
		replication := func() map[string]string {
			t.Helper()
			r := run(t, args...)
			if r.code != ExitOK {
				t.Fatalf("advise: exit %d: %s", r.code, r.stderr)
			}
			var rep clusterReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, f := range rep.Result.Findings {
				if strings.HasPrefix(f.Rule, "replication.") {
					got[f.Rule] += f.Title + "; "
				}
			}
			return got
		}
		if got := replication(); len(got) != 0 {
			t.Errorf("a healthy cluster has replication findings: %v", got)
		}

		// A slot nobody streams through.
		if _, err := p.Exec(ctx, "SELECT pg_create_physical_replication_slot('gone_replica', true)"); err != nil {
			t.Fatal(err)
		}
		// replica2 cancels a query that still sees rows VACUUM removed on the primary.
		r2 := c.Replicas[1].Connect(t, "app")
		if _, err := r2.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ"); err != nil {
			t.Fatal(err)
		}
		if _, err := r2.Exec(ctx, "SELECT count(*) FROM t"); err != nil {
			t.Fatal(err)
		}
		for _, sql := range []string{"DELETE FROM t WHERE a % 2 = 0", "VACUUM t"} {
			if _, err := p.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		watch := c.Replicas[1].Connect(t, "app")
		deadline := time.Now().Add(30 * time.Second)
		for {
			var n int64
			if err := watch.QueryRow(ctx, "SELECT confl_snapshot FROM pg_stat_database_conflicts WHERE datname = current_database()").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("replica2 cancelled no query within 30 s")
			}
			time.Sleep(200 * time.Millisecond)
		}
		// replica1's replay paused, with writes behind it.
		if _, err := c.Replicas[0].Connect(t, "app").Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Exec(ctx, "INSERT INTO t SELECT g, 'y' FROM generate_series(1, 1000) g"); err != nil {
			t.Fatal(err)
		}
		got := replication()
		u1, _ := url.Parse(c.Replicas[0].AdminDSN)
		u2, _ := url.Parse(c.Replicas[1].AdminDSN)
		for rule, want := range map[string]string{
			"replication.slot_inactive": "gone_replica",
			"replication.conflicts":     u2.Host + " cancelled",
			"replication.lag":           u1.Host + " has its replay paused",
		} {
			if !strings.Contains(got[rule], want) {
				t.Errorf("%s: %q, want %q", rule, got[rule], want)
			}
		}
		if len(got) != 3 {
			t.Errorf("replication findings: %v", got)
		}

		// replica2 applying WAL five minutes late (a delayed replica, set by a reload), then an
		// index built on the primary: the delay is reported as such, and the index, which
		// replica2 does not have yet, is not called unused.
		if _, err := c.Replicas[0].Connect(t, "app").Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
			t.Fatal(err)
		}
		r2 = c.Replicas[1].Connect(t, "app") // its earlier session may be the one replay cancelled
		for _, sql := range []string{"ALTER SYSTEM SET recovery_min_apply_delay = '5min'", "SELECT pg_reload_conf()"} {
			if _, err := r2.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			var v string
			if err := watch.QueryRow(ctx, "SELECT current_setting('recovery_min_apply_delay')").Scan(&v); err != nil {
				t.Fatal(err)
			}
			if v == "5min" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("recovery_min_apply_delay is %s on replica2", v)
			}
		}
		if _, err := p.Exec(ctx, "CREATE INDEX t_b_idx ON t (b)"); err != nil {
			t.Fatal(err)
		}
		c.WaitReplay(t, c.Replicas[0])
		r := run(t, "advise", "--dsn", c.Primary.DSN("app"), "--format", "json",
			"--replica-dsn", c.Replicas[0].DSN("app"), "--replica-dsn", c.Replicas[1].DSN("app"))
		var rep clusterReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("advise: %v\n%s", err, r.stderr)
		}
		delayed, unknown := false, false
		for _, f := range rep.Result.Findings {
			if f.Rule == "replication.delayed" && strings.Contains(f.Title, u2.Host) && strings.Contains(f.Title, "5.0 min") {
				delayed = true
			}
			if f.Rule == "audit.index.unused" && f.Index != nil && f.Index.Name == "t_b_idx" {
				if f.SQL != "" {
					t.Errorf("t_b_idx, not yet on the delayed replica, gets a drop: %s", f.SQL)
				}
				unknown = strings.Contains(f.Title, "unknown")
			}
		}
		if !delayed || !unknown {
			t.Errorf("a replica five minutes late: delayed finding %v, t_b_idx unknown %v; findings %v", delayed, unknown, clusterRules(rep))
		}
	})
}

// The demo on a cluster, as the application runs: 'demo run --replica-dsn' sends the calendars,
// dashboards and searches to the replica and everything else to the primary, so the replica's
// pg_stat_statements holds reads the primary never sees; advise with the replica then plans
// them, with the replica named in their evidence.
func TestDemoReadWriteSplit(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		c := pgtest.NewCluster(t, pgtest.ClusterOptions{Replicas: 1})
		ctx := t.Context()
		bookingDB(t, c, "CREATE EXTENSION pg_stat_statements", "CREATE EXTENSION hypopg")
		primary, replica := c.Primary.DSN("booking"), c.Replicas[0].DSN("booking")
		if r := run(t, "demo", "load", "--dsn", primary, "--scale", "0.05", "--partition-notifications"); r.code != ExitOK {
			t.Fatalf("demo load: exit %d: %s", r.code, r.stderr)
		}
		c.WaitReplay(t)
		nodes := []*pgtest.Node{c.Primary, c.Replicas[0]}
		for _, n := range nodes {
			if _, err := n.Connect(t, "booking").Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
				t.Fatalf("%s: %v", n.Name, err)
			}
		}
		r := run(t, "demo", "run", "--dsn", primary, "--replica-dsn", replica, "--actions", "1500", "--bind-all", "--format", "json")
		if r.code != ExitOK {
			t.Fatalf("demo run with a replica: exit %d: %s", r.code, r.stderr)
		}
		var out struct {
			Result struct {
				Statements []struct {
					Name         string `json:"name"`
					Calls        int64  `json:"calls"`
					ReplicaCalls int64  `json:"replica_calls"`
				} `json:"statements"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("demo run's JSON: %v\n%s", err, r.stdout)
		}
		byName := map[string][2]int64{}
		for _, s := range out.Result.Statements {
			byName[s.Name] = [2]int64{s.Calls, s.ReplicaCalls}
		}
		for _, name := range []string{"barber_day", "barber_week", "client_search_name"} {
			if got := byName[name]; got[0] == 0 || got[1] != got[0] {
				t.Errorf("%s: %d calls, %d on the replica; want all on the replica", name, got[0], got[1])
			}
		}
		for _, name := range []string{"book_appointment", "notification_poller", "client_upcoming", "appointment_by_id"} {
			if got := byName[name]; got[0] == 0 || got[1] != 0 {
				t.Errorf("%s: %d calls, %d on the replica; want all on the primary", name, got[0], got[1])
			}
		}

		// Each node's own pg_stat_statements agrees.
		count := func(n *pgtest.Node, like string) int64 {
			var calls int64
			if err := n.Connect(t, "booking").QueryRow(ctx, `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements
				WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query LIKE $1`, like).Scan(&calls); err != nil {
				t.Fatal(err)
			}
			return calls
		}
		const day = "%a.status, a.notes, c.first_name%" // barber_day
		if p, rep := count(c.Primary, day), count(c.Replicas[0], day); p != 0 || rep == 0 {
			t.Errorf("barber_day on the primary %d times, on the replica %d; want only on the replica", p, rep)
		}
		if p := count(c.Primary, "INSERT INTO appointments%"); p == 0 {
			t.Error("the bookings never reached the primary")
		}

		// advise with the replica sees the replica's reads, and says where they ran: as the
		// superuser, and as production runs it, a pg_monitor role with SELECT on the tables on
		// every node (created on the primary, replayed on the replica).
		// (EXPLAIN needs SELECT on the tables: pg_monitor alone is refused, with the grant named.)
		for _, sql := range []string{"CREATE ROLE pgtune_monitor LOGIN PASSWORD 'monitor-secret' IN ROLE pg_monitor",
			"GRANT SELECT ON ALL TABLES IN SCHEMA public TO pgtune_monitor"} {
			if _, err := c.Primary.Connect(t, "booking").Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		c.WaitReplay(t)
		pgtest.WaitForIndexScans(t, c.Replicas[0].Connect(t, "booking"), "appointments")
		asMonitor := func(dsn string) string {
			u, _ := url.Parse(dsn)
			u.User = url.UserPassword("pgtune_monitor", "monitor-secret")
			return u.String()
		}
		u, _ := url.Parse(c.Replicas[0].AdminDSN)
		for _, dsns := range [][2]string{{primary, replica}, {asMonitor(primary), asMonitor(replica)}} {
			r = run(t, "advise", "--dsn", dsns[0], "--replica-dsn", dsns[1], "--format", "json")
			if r.code != ExitOK && r.code != ExitFindings {
				t.Fatalf("advise: exit %d: %s", r.code, r.stderr)
			}
			var rep clusterReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("advise's JSON: %v", err)
			}
			if len(rep.Result.Source.Gaps) != 0 {
				t.Errorf("gaps: %+v", rep.Result.Source.Gaps)
			}
			onReplica := false
			for _, f := range rep.Result.Findings {
				if f.Rule != "index.create" {
					continue
				}
				for _, s := range f.Statements {
					for _, n := range s.Nodes {
						onReplica = onReplica || (n.Node == u.Host && n.Calls > 0)
					}
				}
			}
			if !onReplica {
				t.Errorf("no proposed index serves a statement of the replica; findings %v", clusterRules(rep))
			}
			if strings.Contains(r.stdout, "monitor-secret") || strings.Contains(r.stderr, "monitor-secret") {
				t.Error("advise printed the monitoring role's password")
			}
		}
	}, pgtest.Since(16))
}

// migrate up on a cluster: it reports how far each replica has replayed the last migration;
// with --wait-replicas it waits for them, refuses to start while a replica is too far behind
// (replay paused), and names the grant a role without pg_read_all_stats needs to see them.
func TestMigrateWaitsForReplicas(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		c := pgtest.NewCluster(t, pgtest.ClusterOptions{})
		ctx := t.Context()
		p := bookingDB(t, c,
			"CREATE TABLE t (id bigint PRIMARY KEY, a int, b int, c int)",
			"INSERT INTO t SELECT g, g % 1000, g % 77, g % 13 FROM generate_series(1, 20000) g",
			"CREATE ROLE migrator LOGIN PASSWORD 'migrator-secret'",
			"ALTER TABLE t OWNER TO migrator",
			"GRANT CREATE ON SCHEMA public TO migrator",
		)
		c.WaitReplay(t)
		// Three pgtune migrations (one index each), copied into dir one by one.
		all := filepath.Join(t.TempDir(), "all")
		var props []*indexes.Proposal
		for _, col := range []string{"a", "b", "c"} {
			props = append(props, &indexes.Proposal{Candidate: &indexes.Candidate{Table: "public.t", Method: "btree",
				Keys: []dbstate.IndexKey{{Column: col}}, Name: "t_" + col + "_idx", Why: []string{"test"}}})
		}
		if _, err := indexes.Write(all, indexes.Migrations(props, nil, nil, 0, map[string]bool{}, time.Now())); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		release := func(version string) {
			t.Helper()
			files, _ := filepath.Glob(filepath.Join(all, version+"_*"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		type upResult struct {
			Result struct {
				Result struct {
					Applied  []string `json:"applied"`
					Replicas []struct {
						Replica  string `json:"replica"`
						Replayed bool   `json:"replayed"`
					} `json:"replicas"`
					Hidden int      `json:"hidden_replicas"`
					Idle   []string `json:"idle_slots"`
				} `json:"result"`
			} `json:"result"`
		}
		up := func(dsn string, want int, extra ...string) (upResult, result) {
			t.Helper()
			r := run(t, append([]string{"migrate", "up", "--dsn", dsn, "--dir", dir, "--format", "json"}, extra...)...)
			if r.code != want {
				t.Fatalf("migrate up %q: exit %d, want %d: %s", extra, r.code, want, r.stderr)
			}
			var res upResult
			if want == ExitOK {
				if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
					t.Fatalf("migrate up's JSON: %v\n%s", err, r.stdout)
				}
			}
			return res, r
		}
		hasIndex := func(n *pgtest.Node, name string) bool {
			var ok bool
			if err := n.Connect(t, "booking").QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_class WHERE relname = $1)", name).Scan(&ok); err != nil {
				t.Fatal(err)
			}
			return ok
		}
		admin := c.Primary.DSN("booking")
		replica2 := c.Replicas[1].Connect(t, "booking")

		// replica2's replay paused and behind: --wait-replicas refuses to start, naming it.
		release("000001")
		if _, err := replica2.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
			t.Fatal(err)
		}
		// The pause takes hold when the replica's startup process next looks, which may be after
		// the record that woke it: write until it holds, then once more behind it.
		for deadline := time.Now().Add(30 * time.Second); ; {
			if _, err := p.Exec(ctx, "UPDATE t SET c = c + 1 WHERE id <= 100"); err != nil {
				t.Fatal(err)
			}
			var paused bool
			if err := replica2.QueryRow(ctx, "SELECT pg_is_wal_replay_paused()").Scan(&paused); err != nil {
				t.Fatal(err)
			}
			if paused {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("replica2's replay did not pause within 30 s")
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := p.Exec(ctx, "UPDATE t SET c = c + 1 WHERE id <= 100"); err != nil {
			t.Fatal(err)
		}
		_, r := up(admin, ExitFailed, "--wait-replicas", "3s")
		if !strings.Contains(r.stderr, "did not catch up") || !strings.Contains(r.stderr, c.Replicas[1].Slot) || !strings.Contains(r.stderr, "nothing was applied") {
			t.Errorf("refusal with replica2 paused: %s", r.stderr)
		}
		if hasIndex(c.Primary, "t_a_idx") {
			t.Error("t_a_idx was built though the run refused to start")
		}

		// Without --wait-replicas: applied, and replica2 reported as not having replayed it.
		res, _ := up(admin, ExitOK)
		replayed := map[string]bool{}
		for _, rp := range res.Result.Result.Replicas {
			replayed[rp.Replica] = rp.Replayed
		}
		if got, ok := replayed[c.Replicas[1].Slot]; len(res.Result.Result.Applied) != 1 || !ok || got {
			t.Errorf("report only, replica2 paused: %+v", res.Result.Result)
		}

		// Replay resumed: --wait-replicas waits for both, so the index is on each when it returns.
		if _, err := replica2.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
			t.Fatal(err)
		}
		release("000002")
		res, _ = up(admin, ExitOK, "--wait-replicas", "1m")
		if len(res.Result.Result.Replicas) != 2 {
			t.Errorf("replicas after waiting: %+v", res.Result.Result.Replicas)
		}
		for _, rp := range res.Result.Result.Replicas {
			if !rp.Replayed {
				t.Errorf("%s not replayed after --wait-replicas", rp.Replica)
			}
		}
		for _, n := range c.Replicas {
			if !hasIndex(n, "t_b_idx") {
				t.Errorf("%s has no t_b_idx when migrate up --wait-replicas returned", n.Name)
			}
		}

		// A role without pg_read_all_stats cannot see the replicas: waiting names the grant;
		// without waiting, the run goes on and counts them as hidden.
		if _, err := p.Exec(ctx, "ALTER TABLE schema_migrations OWNER TO migrator"); err != nil {
			t.Fatal(err)
		}
		release("000003")
		u, _ := url.Parse(admin)
		u.User = url.UserPassword("migrator", "migrator-secret")
		_, r = up(u.String(), ExitFailed, "--wait-replicas", "10s")
		if !strings.Contains(r.stderr, "GRANT pg_read_all_stats TO migrator") || strings.Contains(r.stderr, "migrator-secret") {
			t.Errorf("a role that cannot see the replicas, waiting: %s", r.stderr)
		}
		res, _ = up(u.String(), ExitOK)
		if len(res.Result.Result.Applied) != 1 || res.Result.Result.Hidden != 2 {
			t.Errorf("a role that cannot see the replicas: %+v", res.Result.Result)
		}

		// A replica down: its slot is named as not streaming, and not waited for.
		c.Stop(t, c.Replicas[0])
		if _, err := p.Exec(ctx, "DROP INDEX t_c_idx"); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Exec(ctx, "DELETE FROM schema_migrations"); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Exec(ctx, "INSERT INTO schema_migrations VALUES (2, false)"); err != nil {
			t.Fatal(err)
		}
		res, _ = up(admin, ExitOK, "--wait-replicas", "1m")
		if len(res.Result.Result.Idle) != 1 || res.Result.Result.Idle[0] != c.Replicas[0].Slot || len(res.Result.Result.Replicas) != 1 {
			t.Errorf("with replica1 down: %+v", res.Result.Result)
		}
	})
}

// A long query on a replica with hot_standby_feedback holds back the primary's xmin horizon
// through its slot: maintain plan (and advise) name it as the replica's feedback, with the fix
// on the replica, not as a slot whose consumer is behind; the replica without feedback holds
// nothing back, however old its snapshot.
func TestReplicaFeedbackHoldsTheHorizon(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		c := pgtest.NewCluster(t, pgtest.ClusterOptions{})
		ctx := t.Context()
		p := bookingDB(t, c,
			"CREATE EXTENSION pg_stat_statements",
			"CREATE TABLE t (id int PRIMARY KEY)",
			"INSERT INTO t SELECT generate_series(1, 100)",
			`CREATE PROCEDURE burn(n int) LANGUAGE plpgsql AS $$
			BEGIN FOR i IN 1..n LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`,
		)
		c.WaitReplay(t)
		// replica1 (feedback on) and replica2 (off) each hold a snapshot open.
		for _, n := range c.Replicas {
			tx, err := n.Connect(t, "booking").Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, "SELECT count(*) FROM t"); err != nil {
				t.Fatal(err)
			}
		}
		// The feedback reaches the slot within wal_receiver_status_interval (10 s).
		slotXmin := func() (age int64) {
			if err := p.QueryRow(ctx, "SELECT coalesce(age(xmin), 0) FROM pg_replication_slots WHERE slot_name = $1", c.Replicas[0].Slot).Scan(&age); err != nil {
				t.Fatal(err)
			}
			return age
		}
		for deadline := time.Now().Add(30 * time.Second); slotXmin() == 0; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("replica1's feedback never reached its slot")
			}
		}
		if _, err := p.Exec(ctx, "CALL burn(1100000)"); err != nil {
			t.Fatal(err)
		}
		if age := slotXmin(); age < 1_000_000 {
			t.Fatalf("replica1's slot xmin is %d transactions old after the burn", age)
		}

		r := run(t, "maintain", "plan", "--dsn", c.Primary.DSN("booking"), "--format", "json")
		if r.code != ExitOK {
			t.Fatalf("maintain plan: exit %d: %s", r.code, r.stderr)
		}
		var plan struct {
			Result struct {
				Blockers []struct {
					Kind, Name, Detail string
					XIDAge             int64 `json:"xid_age"`
				} `json:"blockers"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil {
			t.Fatal(err)
		}
		bs := plan.Result.Blockers
		if len(bs) != 1 || bs[0].Kind != "replica_feedback" || bs[0].Name != "slot "+c.Replicas[0].Slot || bs[0].XIDAge < 1_000_000 {
			t.Errorf("blockers: %+v; want replica1's feedback through its slot only", bs)
		}
		r = run(t, "maintain", "plan", "--dsn", c.Primary.DSN("booking"))
		if !strings.Contains(r.stdout, "A replica's hot_standby_feedback holds it") {
			t.Errorf("maintain plan's table does not say a replica holds the horizon:\n%s", r.stdout)
		}
		rep := run(t, "advise", "--dsn", c.Primary.DSN("booking"), "--format", "json")
		if !strings.Contains(rep.stdout, "replica feedback slot "+c.Replicas[0].Slot+" holds back VACUUM") || !strings.Contains(rep.stdout, "hot_standby_feedback = off") {
			t.Errorf("advise does not name replica1's feedback as what holds back VACUUM: %s", rep.stderr)
		}
	})
}

// config --replicas and pgbouncer --replica-hosts on a real cluster: the rendered postgresql.conf
// starts the primary and both replicas (a hot standby refuses to start below its primary's
// max_connections and the other settings it must match), and a real PgBouncer with the rendered
// ini sends booking to the primary and booking_ro to both replicas in turn, through auth_query,
// within each replica's budget.
func TestClusterPgBouncer(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		instance := []string{"--memory", "2GB", "--cpus", "2", "--replicas", "2", "--app-instances", "2", "--app-pool-size", "10"}
		conf := run(t, append([]string{"config", "--pooler", "--pg-version", strconv.Itoa(pgtest.MajorOf(t))}, instance...)...)
		if conf.code != ExitOK {
			t.Fatalf("config: exit %d: %s", conf.code, conf.stderr)
		}
		budget := run(t, append([]string{"config", "--pooler", "--format", "json"}, instance...)...)
		var doc struct {
			Result struct {
				Connections struct {
					MaxConnections int `json:"max_connections"`
					Replica        struct {
						Needed int `json:"needed"`
					} `json:"replica"`
				} `json:"connections"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(budget.stdout), &doc); err != nil || doc.Result.Connections.Replica.Needed == 0 {
			t.Fatalf("config's budget: %v\n%s", err, budget.stdout)
		}
		c := pgtest.NewCluster(t, pgtest.ClusterOptions{Conf: conf.stdout})
		ctx := t.Context()
		bookingDB(t, c,
			"CREATE ROLE app LOGIN PASSWORD 'app-secret'",
			"CREATE ROLE pgtune LOGIN PASSWORD 'monitor-secret'",
		)
		for _, n := range append([]*pgtest.Node{c.Primary}, c.Replicas...) {
			var mc int
			var feedback string
			if err := n.Connect(t, "booking").QueryRow(ctx, "SELECT current_setting('max_connections')::int, current_setting('hot_standby')").Scan(&mc, &feedback); err != nil {
				t.Fatal(err)
			}
			if mc != doc.Result.Connections.MaxConnections || mc < doc.Result.Connections.Replica.Needed || feedback != "on" {
				t.Errorf("%s runs max_connections %d, hot_standby %s; rendered %d for a replica budget of %d", n.Name, mc, feedback, doc.Result.Connections.MaxConnections, doc.Result.Connections.Replica.Needed)
			}
		}

		// config --dsn on the primary sees its two replicas streaming and sizes the cluster.
		live := run(t, "config", "--dsn", c.Primary.DSN("booking"), "--memory", "2GB", "--cpus", "2", "--format", "json")
		var liveDoc struct {
			Result struct {
				Instance struct {
					Replicas int `json:"replicas"`
				} `json:"instance"`
				Detected []string `json:"detected"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(live.stdout), &liveDoc); err != nil || liveDoc.Result.Instance.Replicas != 2 ||
			!strings.Contains(strings.Join(liveDoc.Result.Detected, " "), "2 streaming replica(s)") {
			t.Errorf("config --dsn on the primary: %v %+v %s", err, liveDoc.Result, live.stderr)
		}

		p := c.Primary
		out, err := p.Exec(ctx, "pgbouncer", "--version")
		if err != nil {
			t.Fatal(err)
		}
		version := regexp.MustCompile(`PgBouncer (\d+\.\d+)`).FindStringSubmatch(out)[1]
		const dir = "/tmp/pgb"
		if _, err := p.Exec(ctx, "mkdir", "-p", dir); err != nil {
			t.Fatal(err)
		}
		outDir := t.TempDir()
		r := run(t, append([]string{"pgbouncer", "--database", "booking", "--server-host", "127.0.0.1", "--replica-hosts", "replica1,replica2",
			"--listen-addr", "127.0.0.1", "--pgbouncer-version", version, "--runtime-dir", dir, "--log-dir", dir, "--auth-file", dir + "/userlist.txt",
			"--stats-users", "pgtune", "--admin-users", "pgtune", "--out-dir", outDir}, instance...)...)
		if r.code != ExitOK {
			t.Fatalf("pgbouncer: exit %d: %s", r.code, r.stderr)
		}
		for _, name := range []string{"pgbouncer.ini", "auth_setup.sql"} {
			data, err := os.ReadFile(filepath.Join(outDir, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.WriteFile(ctx, dir+"/"+name, string(data)); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.WriteFile(ctx, dir+"/userlist.txt", `"pgbouncer_auth" "auth-secret"`+"\n"+`"pgtune" "monitor-secret"`+"\n"); err != nil {
			t.Fatal(err)
		}
		psql := []string{"psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"}
		if out, err := p.Exec(ctx, append(psql, "-f", dir+"/auth_setup.sql")...); err != nil {
			t.Fatalf("auth_setup.sql: %v\n%s", err, out)
		}
		if out, err := p.Exec(ctx, append(psql, "-c", "ALTER ROLE pgbouncer_auth PASSWORD 'auth-secret'")...); err != nil {
			t.Fatalf("auth user password: %v\n%s", err, out)
		}
		c.WaitReplay(t) // the roles and the lookup function reach the replicas
		if out, err := p.Exec(ctx, "pgbouncer", "-d", dir+"/pgbouncer.ini"); err != nil {
			t.Fatalf("start pgbouncer: %v\n%s", err, out)
		}
		through := func(db, sql string) (string, error) {
			return p.Exec(ctx, "sh", "-c", fmt.Sprintf("PGPASSWORD=app-secret psql -X -At -h 127.0.0.1 -p 6432 -U app -d %s -c %q", db, sql))
		}
		var inRecovery string
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if inRecovery, err = through("booking", "SELECT pg_is_in_recovery()"); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if strings.TrimSpace(inRecovery) != "f" {
			log, _ := p.Exec(ctx, "sh", "-c", "tail -n 20 "+dir+"/pgbouncer.log")
			t.Fatalf("booking through PgBouncer: %q, %v\n%s", inRecovery, err, log)
		}
		if out, err := through("booking_ro", "SELECT pg_is_in_recovery()"); err != nil || strings.TrimSpace(out) != "t" {
			t.Fatalf("booking_ro through PgBouncer: %q, %v", out, err)
		}
		// Six clients at once need six server connections: each new one goes to the next replica.
		if out, err := p.Exec(ctx, "sh", "-c", `for i in 1 2 3 4 5 6; do PGPASSWORD=app-secret psql -X -At -h 127.0.0.1 -p 6432 -U app -d booking_ro -c "SELECT pg_sleep(1)" & done; wait`); err != nil {
			t.Fatalf("concurrent reads: %v\n%s", err, out)
		}
		servers, err := p.Exec(ctx, "sh", "-c", `PGPASSWORD=monitor-secret psql -X -At -F' ' -h 127.0.0.1 -p 6432 -U pgtune -d pgbouncer -c "SHOW SERVERS"`)
		if err != nil {
			t.Fatal(err)
		}
		// SHOW SERVERS' columns vary by version (1.23 added replication): the address is the
		// first IPv4 one after the database.
		addrs := map[string]bool{}
		for _, m := range regexp.MustCompile(`(?m)^S app booking_ro .*?(\d+\.\d+\.\d+\.\d+) `).FindAllStringSubmatch(servers, -1) {
			addrs[m[1]] = true
		}
		if len(addrs) != 2 {
			t.Errorf("booking_ro's server connections reach %d replica address(es), want both:\n%s", len(addrs), servers)
		}
	}, pgtest.Since(15))
}
