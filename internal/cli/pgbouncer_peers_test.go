package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// What the newer PgBouncers give, run for real on each image's own PgBouncer (1.15 with 13, 1.18
// with 15, 1.24 with 17, 1.26 with 18):
//
//   - max_prepared_statements (1.21+): pgx's default mode prepares every statement at the
//     protocol level; through transaction pooling, where each transaction may get another server
//     connection, that works only where pgtune rendered max_prepared_statements. Before 1.21
//     pgtune's note says to use the exec mode, and that works.
//   - so_reuseport with [peers] (1.19+): two processes share the port; a cancel request lands on
//     either, and the peers forward it to the one that owns the query. Eight cancels in a row
//     (each lands on a process at random) must each stop their query at once.
func TestPgBouncerPreparedStatementsAndPeers(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		ctx := t.Context()
		instance := []string{"--memory", "2GB", "--cpus", "2", "--profile", "web", "--pg-version", itoa(pgtest.MajorOf(t)),
			"--app-instances", "4", "--app-pool-size", "20"}
		pb := startRenderedPgBouncer(t, ctx, instance, 0)
		processes := pb.processes
		var major, minor int
		if _, err := fmt.Sscanf(pb.version, "%d.%d", &major, &minor); err != nil {
			t.Fatalf("PgBouncer version %q", pb.version)
		}
		ver := major*100 + minor
		if ver < 119 {
			// pgtune refuses several processes where PgBouncer has no peers.
			r := run(t, append(append([]string{"pgbouncer"}, instance...), "--database", "bench", "--pgbouncer-version", pb.version, "--pooler-processes", "2")...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, "need PgBouncer 1.19+") {
				t.Errorf("two processes on PgBouncer %s: exit %d, %s", pb.version, r.code, r.stderr)
			}
		}
		dsn := fmt.Sprintf("postgres://app:app-secret@127.0.0.1:%d/bench?sslmode=disable", pb.reach)

		// Prepared statements through transaction pooling.
		mode := "cache_statement" // pgx's default: protocol-level prepared statements
		if ver < 121 {
			if !strings.Contains(pb.ini, "predates max_prepared_statements") {
				t.Errorf("PgBouncer %s: the ini has no note on prepared statements", pb.version)
			}
			mode = "exec" // what the note says to use
		} else if !strings.Contains(pb.ini, "max_prepared_statements = 200") {
			t.Errorf("PgBouncer %s: max_prepared_statements not rendered", pb.version)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for c := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, err := pgx.Connect(ctx, dsn+"&default_query_exec_mode="+mode)
				if err != nil {
					errs <- err
					return
				}
				defer conn.Close(context.Background())
				for i := range 100 {
					var got int
					// Several shapes, so each server connection meets statements prepared elsewhere.
					q := fmt.Sprintf("SELECT $1::int + %d", i%5)
					if err := conn.QueryRow(ctx, q, c).Scan(&got); err != nil {
						errs <- fmt.Errorf("client %d, transaction %d (%s): %w", c, i, mode, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("PgBouncer %s, pgx in %s mode: %v", pb.version, mode, err)
		}

		if processes < 2 {
			return
		}
		// Cancel requests across so_reuseport peers.
		for i := range 8 {
			conn, err := pgx.Connect(ctx, dsn+"&default_query_exec_mode=exec")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			start := time.Now()
			go func() {
				_, err := conn.Exec(ctx, "SELECT pg_sleep(30)")
				done <- err
			}()
			time.Sleep(300 * time.Millisecond)
			if err := conn.PgConn().CancelRequest(ctx); err != nil {
				t.Fatalf("cancel %d: %v", i, err)
			}
			select {
			case err := <-done:
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
					t.Errorf("cancel %d: the query ended with %v, want 57014 (canceled)", i, err)
				}
				if took := time.Since(start); took > 5*time.Second {
					t.Errorf("cancel %d took %v", i, took)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("cancel %d never reached the query's process: the peers did not forward it", i)
			}
			conn.Close(context.Background())
		}
		// Both processes served: each logged its own logins.
		for i := 1; i <= processes; i++ {
			out, _ := pb.srv.Exec(ctx, "sh", "-c", fmt.Sprintf("grep -c 'login attempt' %s/pgbouncer-%d.log || true", pb.srv.Dir, i))
			t.Logf("process %d: %s logins", i, strings.TrimSpace(out))
		}
	})
}
