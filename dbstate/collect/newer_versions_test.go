package collect

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/internal/pgtest"
	"github.com/bookedbarber/pgtune/pgconf"
)

// The evidence the newer versions give, planted for real and read back on every major: pg_stat_io
// (16+) shows client backends writing shared buffers themselves when the background writer is
// off and shared_buffers tiny; pg_stat_statements 1.12 (18) shows plans that got none of the
// parallel workers they asked for, and statements that found the WAL buffers full. On the
// majors without them the collector reads none of it and pgtune says nothing.
func TestNewerVersionsEvidence(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		srv := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Conf: "shared_buffers = 1MB\nbgwriter_lru_maxpages = 0\n" +
			"wal_buffers = 64kB\nmax_parallel_workers = 0\nmax_parallel_workers_per_gather = 2\n"})
		ctx := t.Context()
		conn, err := pgx.Connect(ctx, srv.AdminDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		for _, sql := range []string{
			"CREATE EXTENSION pg_stat_statements",
			"CREATE TABLE big (id int PRIMARY KEY, v int, pad text)",
			"INSERT INTO big SELECT g, 0, repeat('x', 200) FROM generate_series(1, 60000) g",
			"ANALYZE big",
			// Random single-row updates through the primary key: normal-context buffer use, so a
			// backend that needs a buffer must write a dirty one out itself.
			"DO $$ BEGIN FOR i IN 1..4000 LOOP UPDATE big SET v = v + 1 WHERE id = 1 + (i * 7919) % 60000; END LOOP; END $$",
			"SET parallel_setup_cost = 0", "SET parallel_tuple_cost = 0", "SET min_parallel_table_scan_size = 0",
		} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		for range 120 {
			if _, err := conn.Exec(ctx, "SELECT count(*) FROM big WHERE pad LIKE 'y%'"); err != nil {
				t.Fatal(err)
			}
		}
		// Large WAL records in few statements: 64 kB of WAL buffers fill within each.
		for i := range 20 {
			if _, err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO big SELECT 100000 + %d * 1000 + g, 0, repeat('y', 1500) FROM generate_series(1, 1000) g", i)); err != nil {
				t.Fatal(err)
			}
		}
		pgtest.WaitForStats(t, conn, "big", 80000)
		snap, err := Collect(ctx, conn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		signals := map[string]pgconf.Signal{}
		for _, s := range pgconf.Assess(snap) {
			signals[s.Rule] = s
		}
		major := srv.Major

		// pg_stat_io, 16+.
		if major >= 16 {
			if len(snap.Activity.IO) == 0 {
				t.Fatal("no pg_stat_io rows collected")
			}
			s, ok := signals["settings.backend_writes"]
			if !ok {
				t.Fatalf("no settings.backend_writes; pg_stat_io rows: %+v", snap.Activity.IO)
			}
			if fact(s.Evidence, "client_backend_writes") == nil || s.Suggest == "" {
				t.Errorf("backend_writes evidence %v, suggest %q", s.Evidence, s.Suggest)
			}
		} else {
			if snap.Activity.IO != nil {
				t.Errorf("pg_stat_io rows on %d: %v", major, snap.Activity.IO)
			}
			if _, ok := signals["settings.backend_writes"]; ok {
				t.Error("settings.backend_writes without pg_stat_io")
			}
		}

		// pg_stat_statements 1.12, 18.
		var toLaunch, walFull int64
		for _, r := range snap.Statements.Rows {
			toLaunch += max(r.ParallelWorkersToLaunch, 0)
			walFull += r.WalBuffersFull
		}
		if major >= 18 {
			if toLaunch < 100 || walFull < 100 {
				t.Errorf("pg_stat_statements 1.12: %d workers to launch, %d WAL buffers full", toLaunch, walFull)
			}
			for _, rule := range []string{"settings.parallel_workers_short", "settings.wal_buffers_full"} {
				s, ok := signals[rule]
				if !ok {
					t.Errorf("no %s", rule)
					continue
				}
				if len(s.Statements) == 0 || s.SQL == "" {
					t.Errorf("%s: statements %v, SQL %q", rule, s.Statements, s.SQL)
				}
			}
			if s := signals["settings.parallel_workers_short"]; len(s.Statements) > 0 && !strings.Contains(s.Statements[0].Query, "FROM big WHERE pad LIKE") {
				t.Errorf("parallel_workers_short names %q first, want the parallel count", s.Statements[0].Query)
			}
		} else {
			for _, rule := range []string{"settings.parallel_workers_short", "settings.wal_buffers_full"} {
				if _, ok := signals[rule]; ok {
					t.Errorf("%s before pg_stat_statements 1.12", rule)
				}
			}
		}
		if major >= 17 {
			for _, r := range snap.Statements.Rows {
				if r.StatsSince == nil || r.MinMaxStatsSince == nil {
					t.Fatalf("pg_stat_statements 1.11: no stats_since/minmax_stats_since on %q", r.Query)
				}
			}
		}
	})
}

func fact(ev finding.Evidence, name string) any {
	for _, f := range ev {
		if f.Name == name {
			return f.Value
		}
	}
	return nil
}
