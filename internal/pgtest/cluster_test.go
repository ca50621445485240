package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A cluster is a primary streaming to two replicas through a slot each, the first with
// hot_standby_feedback on and the second off; what the primary writes reaches both, a replica
// whose replay is paused falls behind and catches up once resumed, and an isolated one cannot be
// reached.
func TestCluster(t *testing.T) {
	EachMajor(t, func(t *testing.T) {
		c := NewCluster(t, ClusterOptions{})
		c.CreateDatabase(t, "app")
		p := c.Primary.Connect(t, "app")
		ctx := t.Context()
		for _, sql := range []string{"CREATE TABLE t (a int)", "INSERT INTO t SELECT generate_series(1, 1000)"} {
			if _, err := p.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		var streaming int
		if err := p.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid
			WHERE r.state = 'streaming' AND s.slot_name IN ('replica1', 'replica2')`).Scan(&streaming); err != nil || streaming != 2 {
			t.Fatalf("%d replicas streaming through their slots (%v), want 2", streaming, err)
		}
		c.WaitReplay(t)
		for i, r := range c.Replicas {
			conn := r.Connect(t, "app")
			var n int
			var recovery bool
			var feedback string
			if err := conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM t), pg_is_in_recovery(), current_setting('hot_standby_feedback')").Scan(&n, &recovery, &feedback); err != nil {
				t.Fatal(err)
			}
			if want := map[int]string{0: "on", 1: "off"}[i]; n != 1000 || !recovery || feedback != want {
				t.Errorf("%s: %d rows, in recovery %v, hot_standby_feedback %s (want 1000, true, %s)", r.Name, n, recovery, feedback, want)
			}
		}
		// With replay paused, replica2 falls behind; resumed, it catches up.
		r2 := c.Replicas[1]
		conn2 := r2.Connect(t, "app")
		if _, err := conn2.Exec(ctx, "SELECT pg_wal_replay_pause()"); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Exec(ctx, "INSERT INTO t SELECT generate_series(1, 500)"); err != nil {
			t.Fatal(err)
		}
		c.WaitReplay(t, c.Replicas[0])
		var n int
		if err := conn2.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1000 {
			t.Errorf("replay paused, replica2 has %d rows (%v), want the 1000 of before", n, err)
		}
		if _, err := conn2.Exec(ctx, "SELECT pg_wal_replay_resume()"); err != nil {
			t.Fatal(err)
		}
		c.WaitReplay(t)
		if err := conn2.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1500 {
			t.Errorf("replay resumed, replica2 has %d rows (%v), want 1500", n, err)
		}
		// Isolated, it cannot be reached at all.
		c.Isolate(t, r2)
		short, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(short, r2.DSN("app")); err == nil {
			conn.Close(ctx)
			t.Error("an isolated replica still answers")
		}
	})
}
