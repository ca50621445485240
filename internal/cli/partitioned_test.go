package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// The booking demo with a partitioned notifications table, end to end as a pipeline runs it:
// demo load --partition-notifications, the app's workload, indexes generate (per-partition steps
// for notifications), migrate lint --dsn (clean), migrate up (every index valid, the partitioned
// parents' too), migrate status (nothing pending, nothing invalid or incomplete).
func TestPartitionedDemoPipeline(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements", "hypopg"))
		ctx := t.Context()
		if r := run(t, "demo", "load", "--dsn", db.DSN, "--scale", "0.2", "--partition-notifications"); r.code != ExitOK {
			t.Fatalf("demo load: exit %d: %s", r.code, r.stderr)
		}
		conn := db.Connect(t)
		var parts int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_partition_tree('notifications') WHERE isleaf").Scan(&parts); err != nil || parts != booking.NotificationPartitions {
			t.Fatalf("notifications has %d partitions (%v)", parts, err)
		}
		exec1(t, conn, "SELECT pg_stat_statements_reset()")
		cfg, err := pgx.ParseConfig(db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := booking.Run(ctx, cfg, booking.RunOptions{Actions: 1500, Clients: 3, Seed: 1}); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "migrations")
		r := run(t, "indexes", "generate", "--dsn", db.DSN, "--dir", dir, "--format", "json")
		var doc struct {
			Result generateSummary `json:"result"`
		}
		if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &doc) != nil {
			t.Fatalf("generate: exit %d: %s", r.code, r.stderr)
		}
		onNotifications := 0
		needs := map[string]bool{} // an extension a proposal needs (pg_trgm) is a migration of its own
		for _, p := range doc.Result.Proposals {
			if p.Candidate.Table == "public.notifications" {
				onNotifications++
			}
			if p.Candidate.Needs != "" {
				needs[p.Candidate.Needs] = true
			}
		}
		if onNotifications == 0 {
			t.Fatalf("no proposal on the partitioned notifications (%d proposals)", len(doc.Result.Proposals))
		}
		// Per index on notifications: ON ONLY, one build per partition, the attaches.
		if want := 2 * (len(doc.Result.Proposals) + len(needs) + onNotifications*(booking.NotificationPartitions+1)); len(doc.Result.Files) != want {
			t.Errorf("%d files, want %d", len(doc.Result.Files), want)
		}
		for _, f := range doc.Result.Files {
			if strings.Contains(f, "notifications") && strings.HasSuffix(f, ".up.sql") {
				body := readFile(t, f)
				if strings.Contains(body, "CONCURRENTLY") && strings.Contains(body, "ON public.notifications ") {
					t.Errorf("%s builds CONCURRENTLY on the partitioned parent:\n%s", f, body)
				}
			}
		}
		if r := run(t, "migrate", "lint", "--dsn", db.DSN, dir); r.code != ExitOK || !strings.Contains(r.stdout, "0 errors") {
			t.Errorf("lint: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		// kill -9 in the middle of a partition's build: a session holds notifications_p2 so the
		// build of its index waits; pgtune is killed there, its build goes on once the lock is
		// released; the next run waits for it (--wait) and resumes.
		blocker := db.Connect(t)
		exec1(t, blocker, "BEGIN", "LOCK TABLE notifications_p2 IN ACCESS EXCLUSIVE MODE")
		child := startPgtune(t, nil, nil, "migrate", "up", "--dsn", db.DSN, "--dir", dir, "--lock-timeout", "2m")
		waiting := ""
		for deadline := time.Now().Add(time.Minute); waiting == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			conn.QueryRow(ctx, `SELECT coalesce(max(query), '') FROM pg_stat_activity WHERE application_name = 'pgtune migrate'
AND wait_event_type = 'Lock' AND query LIKE '%notifications_p2%'`).Scan(&waiting)
		}
		if waiting == "" {
			t.Fatal("the build on notifications_p2 never waited on the lock")
		}
		child.Process.Signal(syscall.SIGKILL)
		child.Wait()
		exec1(t, blocker, "COMMIT")
		if r := run(t, "migrate", "up", "--dsn", db.DSN, "--dir", dir, "--wait", "1m"); r.code != ExitOK || !strings.Contains(r.stdout, "recovered") {
			t.Fatalf("migrate up after kill -9 during %q: exit %d\n%s\n%s", waiting, r.code, r.stdout, r.stderr)
		}
		var invalid, parents int
		if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT x.indisvalid), count(*) FILTER (WHERE i.relkind = 'I')
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid`).Scan(&invalid, &parents); err != nil || invalid != 0 || parents != onNotifications+1 {
			t.Errorf("after migrate up: %d invalid indexes, %d partitioned indexes (want 0, %d): %v", invalid, parents, onNotifications+1, err)
		}
		r = run(t, "migrate", "status", "--dsn", db.DSN, "--dir", dir, "--format", "json")
		var st struct {
			Result migrateResult `json:"result"`
		}
		if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &st) != nil || len(st.Result.Status.Pending) != 0 ||
			len(st.Result.Status.Invalid) != 0 || len(st.Result.Status.Incomplete) != 0 {
			t.Errorf("status: exit %d\n%s", r.code, r.stdout)
		}
	})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// migrate lint and migrate up read a directory with one reader: what up refuses (exit 2, before
// connecting), lint reports as an error (exit 1).
func TestMigrateDirectoryReader(t *testing.T) {
	for _, files := range [][]string{
		{"000001_a.up.sql", "000001_b.up.sql"},
		{"abc_x.up.sql"},
		{"000002_x.up.txt"},
	} {
		dir := t.TempDir()
		for _, f := range files {
			os.WriteFile(filepath.Join(dir, f), []byte("-- Generated by pgtune.\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_a_idx ON t (a);\n"), 0o644)
		}
		r := run(t, "migrate", "lint", dir)
		if r.code != ExitFindings || !strings.Contains(r.stdout, "lint.directory") {
			t.Errorf("lint %v: exit %d\n%s%s", files, r.code, r.stdout, r.stderr)
		}
		r = run(t, "migrate", "up", "--dsn", "postgres://nobody@127.0.0.1:1/none", "--dir", dir)
		if r.code != ExitUsage || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("up %v: exit %d: %s", files, r.code, r.stderr)
		}
		// indexes generate does not number migrations after a directory up refuses.
		r = run(t, "indexes", "generate", "--demo", "--dir", dir)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "--dir") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("generate into %v: exit %d: %s", files, r.code, r.stderr)
		}
	}
	if r := run(t, "migrate", "up", "--dir", t.TempDir(), "--max-wait", "-1s"); r.code != ExitUsage || !strings.Contains(r.stderr, "--max-wait") {
		t.Errorf("--max-wait -1s: exit %d: %s", r.code, r.stderr)
	}
}
