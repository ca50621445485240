package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		for _, p := range doc.Result.Proposals {
			if p.Candidate.Table == "public.notifications" {
				onNotifications++
			}
		}
		if onNotifications == 0 {
			t.Fatalf("no proposal on the partitioned notifications (%d proposals)", len(doc.Result.Proposals))
		}
		// Per index on notifications: ON ONLY, one build per partition, the attaches.
		if want := 2 * (len(doc.Result.Proposals) + onNotifications*(booking.NotificationPartitions+1)); len(doc.Result.Files) != want {
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
		if r := run(t, "migrate", "up", "--dsn", db.DSN, "--dir", dir); r.code != ExitOK {
			t.Fatalf("migrate up: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
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
