package cli

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

var maintainScale = flag.Float64("maintain-scale", 10, "BenchmarkMaintainUnderLoad: the booking demo's scale factor")

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkMaintainUnderLoad runs `pgtune maintain run` on the booking database at scale 10 (with
// the index migrations applied, and maintenance debt: autovacuum off on the three biggest tables,
// three tenths of their rows updated, every table never vacuumed since the load) while the booking app's
// mix runs on two connections, and reports the app's statement latency (p50, p99, max) before and
// during the run, and the longest any app statement waited on a lock held by pgtune's sessions.
//
//	CI=true go test -run '^$' -bench MaintainUnderLoad -benchtime 1x -timeout 30m ./internal/cli/ -maintain-scale=10
func BenchmarkMaintainUnderLoad(b *testing.B) {
	db := pgtest.New(b, pgtest.WithExtensions("pg_stat_statements"))
	conn := db.Connect(b)
	ctx := b.Context()
	t0 := time.Now()
	if _, err := booking.Load(ctx, conn, booking.LoadOptions{Options: booking.Options{Scale: *maintainScale, Seed: 1}}); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded scale %g in %v", *maintainScale, time.Since(t0).Round(time.Second))
	if r := run(b, "migrate", "up", "--dsn", db.DSN, "--dir", "../../migrations/booking"); r.code != ExitOK {
		b.Fatalf("migrate up: %s", r.stderr)
	}
	for _, sql := range []string{
		"ALTER TABLE appointments SET (autovacuum_enabled = false)",
		"ALTER TABLE notifications SET (autovacuum_enabled = false)",
		"ALTER TABLE payments SET (autovacuum_enabled = false)",
		"UPDATE appointments SET updated_at = updated_at WHERE id % 10 < 3",
		"UPDATE notifications SET attempts = attempts WHERE id % 10 < 3",
		"UPDATE payments SET amount_cents = amount_cents WHERE id % 10 < 3",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	time.Sleep(2 * time.Second) // statistics
	cfg, err := pgx.ParseConfig(db.DSN)
	if err != nil {
		b.Fatal(err)
	}
	const actions = 1000
	base, err := booking.Run(ctx, cfg, booking.RunOptions{Actions: actions, Clients: 2, Seed: 7, Latencies: true})
	if err != nil {
		b.Fatal(err)
	}

	plan := run(b, "maintain", "plan", "--dsn", db.DSN)
	b.Logf("plan:\n%s", plan.stdout)

	// The run, with the app's mix going on beside it until it ends, and a watcher for app
	// statements waiting on pgtune's locks.
	var wg sync.WaitGroup
	done := make(chan struct{})
	var during []time.Duration
	var duringActions int
	var runErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		for seed := uint64(100); ; seed++ {
			select {
			case <-done:
				return
			default:
			}
			res, err := booking.Run(ctx, cfg, booking.RunOptions{Actions: 100, Clients: 2, Seed: seed, Latencies: true})
			if err != nil {
				runErr = err
				return
			}
			during = append(during, res.Latencies...)
			duringActions += res.Actions
		}
	}()
	var maxWait time.Duration
	watcher := db.Connect(b)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			var w float64
			_ = watcher.QueryRow(ctx, `SELECT coalesce(max(extract(epoch FROM now() - a.query_start)), 0)
FROM pg_stat_activity a
WHERE a.wait_event_type = 'Lock' AND a.application_name <> 'pgtune'
  AND EXISTS (SELECT 1 FROM pg_stat_activity m WHERE m.pid = ANY (pg_blocking_pids(a.pid)) AND m.application_name = 'pgtune')`).Scan(&w)
			maxWait = max(maxWait, time.Duration(w*float64(time.Second)))
		}
	}()
	time.Sleep(2 * time.Second) // the app's mix first
	began := time.Now()
	r := run(b, "maintain", "run", "--dsn", db.DSN, "--lock-timeout", "5s", "--max-duration", "30m")
	took := time.Since(began)
	time.Sleep(2 * time.Second)
	close(done)
	wg.Wait()
	if r.code != ExitOK {
		b.Fatalf("maintain run: exit %d: %s\n%s", r.code, r.stderr, r.stdout)
	}
	if runErr != nil {
		b.Fatal(runErr)
	}
	// Benchmarks truncate their log: the record for docs/BENCHMARKS.md goes to stderr.
	fmt.Fprintf(os.Stderr, "plan:\n%s\nmaintain run took %v:\n%s\n", plan.stdout, took.Round(time.Millisecond), r.stdout)
	line := func(name string, l []time.Duration) string {
		return fmt.Sprintf("| %s | %d | %.2f | %.2f | %.2f |", name, len(l), ms(percentile(l, 0.5)), ms(percentile(l, 0.99)), ms(percentile(l, 1)))
	}
	fmt.Fprintf(os.Stderr, "\n| app statements | calls | p50 (ms) | p99 (ms) | max (ms) |\n|---|---:|---:|---:|---:|\n%s\n%s\nlongest app wait on a pgtune lock: %v (lock_timeout 5s); %d actions during the run",
		line("before", base.Latencies), line("during maintain run", during), maxWait, duringActions)
	fmt.Fprintln(os.Stderr)
	b.ReportMetric(ms(percentile(base.Latencies, 0.5)), "p50_before_ms")
	b.ReportMetric(ms(percentile(base.Latencies, 0.99)), "p99_before_ms")
	b.ReportMetric(ms(percentile(during, 0.5)), "p50_during_ms")
	b.ReportMetric(ms(percentile(during, 0.99)), "p99_during_ms")
	b.ReportMetric(took.Seconds(), "maintain_s")
	b.ReportMetric(maxWait.Seconds()*1000, "max_lock_wait_ms")
	if maxWait >= 5*time.Second {
		b.Errorf("an app statement waited %v on maintenance, more than lock_timeout", maxWait)
	}
	if !strings.Contains(r.stdout, "done") {
		b.Errorf("nothing done:\n%s", r.stdout)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
