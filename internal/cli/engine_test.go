package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// SIGTERM while the index engine prices candidates: advise and indexes generate say they were
// interrupted, exit 3, print no report and write no migration (a cancelled selection used to end
// early with a partial answer and exit 0).
func TestInterruptedEngine(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements", "hypopg"))
		ctx := t.Context()
		conn := db.Connect(t)
		if _, err := booking.Load(ctx, conn, booking.LoadOptions{Options: booking.Options{Scale: 0.2, Seed: 1}}); err != nil {
			t.Fatal(err)
		}
		cfg, err := pgx.ParseConfig(db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := booking.Run(ctx, cfg, booking.RunOptions{Actions: 1500, Clients: 3, Seed: 1}); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"indexes", "generate", "--dsn", db.DSN, "--dir", filepath.Join(t.TempDir(), "m")},
			{"advise", "--dsn", db.DSN},
		} {
			// The previous run's sessions are gone first (they would look like this run's).
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				var left int
				conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgtune' AND pid <> pg_backend_pid()").Scan(&left)
				if left == 0 {
					break
				}
			}
			var stdout, stderr bytes.Buffer
			child := startPgtune(t, &stdout, &stderr, args...)
			// The signal comes once the what-if session plans statements with hypothetical
			// indexes: the selection is under way.
			planning := false
			for deadline := time.Now().Add(time.Minute); !planning && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				conn.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'pgtune' AND pid <> pg_backend_pid()
AND query LIKE '%pgtune_whatif%'`).Scan(&planning)
			}
			if !planning {
				child.Process.Kill()
				child.Wait()
				t.Fatalf("%v: the what-if session never planned", args)
			}
			child.Process.Signal(syscall.SIGTERM)
			err := child.Wait()
			code := child.ProcessState.ExitCode()
			// It says what was left, not Go's "context canceled".
			if err == nil || code != ExitFailed || !strings.Contains(stderr.String(), "interrupted") || strings.Contains(stderr.String(), "context canceled") ||
				!strings.Contains(stderr.String(), "run it again") || strings.Count(strings.TrimSpace(stderr.String()), "\n") > 2 {
				t.Errorf("%v after SIGTERM: exit %d (%v)\nstderr %s", args, code, err, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("%v after SIGTERM printed a report:\n%s", args, stdout.String())
			}
			if args[0] == "indexes" {
				if entries, _ := os.ReadDir(args[len(args)-1]); len(entries) != 0 {
					t.Errorf("indexes generate after SIGTERM wrote %d files", len(entries))
				}
			}
		}
	})
}

// A statement with more equality columns than an index can hold (33; INDEX_MAX_KEYS is 32): the
// candidate is cut to 32 columns (HypoPG refused the 33-column one, and that one error aborted
// the whole engine and report, exit 3), and the report stands.
func TestMoreEqualityColumnsThanAnIndexHolds(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements", "hypopg"))
		conn := db.Connect(t)
		var cols, conds, sel []string
		for i := 1; i <= 34; i++ {
			cols = append(cols, fmt.Sprintf("c%d int", i))
			sel = append(sel, fmt.Sprintf("g %% %d", i+1))
			if i <= 33 {
				conds = append(conds, fmt.Sprintf("c%d = $%d", i, i))
			}
		}
		exec1(t, conn, "CREATE TABLE wide ("+strings.Join(cols, ", ")+")",
			"INSERT INTO wide SELECT "+strings.Join(sel, ", ")+" FROM generate_series(1, 50000) g", "ANALYZE wide",
			"SELECT pg_stat_statements_reset()")
		q := "SELECT count(*) FROM wide WHERE " + strings.Join(conds, " AND ")
		args := make([]any, 33)
		for i := range args {
			args[i] = i
		}
		for range 50 {
			var n int
			if err := conn.QueryRow(t.Context(), q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
		r := run(t, "advise", "--dsn", db.DSN, "--format", "json")
		if r.code != ExitOK || strings.Contains(r.stdout, "index.engine_unavailable") {
			t.Fatalf("advise: exit %d\n%s\n%s", r.code, r.stderr, r.stdout)
		}
		var doc struct {
			Result struct {
				Findings []finding.Finding `json:"findings"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatal(err)
		}
		for _, f := range doc.Result.Findings {
			if f.Rule == "index.create" && f.Index != nil && len(f.Index.Columns)+len(f.Index.Include) > 32 {
				t.Errorf("a proposal of %d columns: %s", len(f.Index.Columns)+len(f.Index.Include), f.SQL)
			}
		}
	})
}

// Cheap, frequent statements that read no table (SELECT 1, SELECT now(), BEGIN/COMMIT, SET: a
// pool's health checks and session set-up) do not move the index choice. The workload: a heavy
// statement no index serves, and a lookup on a small table, 30 calls, that an index makes 20×
// faster for a saving below the workload threshold: it is chosen because it is a frequent
// statement (1 % of the calls) made much faster. 10,000 calls of each table-less statement used to
// push it below 1 % of all calls, and its index out of the choice.
func TestChoiceIgnoresTablelessStatements(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements", "hypopg"))
		ctx := t.Context()
		conn := db.Connect(t)
		exec1(t, conn,
			"CREATE TABLE big (id int, v int)", "INSERT INTO big SELECT g, g % 1000 FROM generate_series(1, 100000) g",
			"CREATE TABLE small (id int, k int, payload text)", "INSERT INTO small SELECT g, g, md5(g::text) FROM generate_series(1, 10000) g",
			"ALTER TABLE big SET (autovacuum_enabled = off)", "ALTER TABLE small SET (autovacuum_enabled = off)",
			"ANALYZE big, small", "SELECT pg_stat_statements_reset()")
		for i := range 1000 {
			var n int64
			if err := conn.QueryRow(ctx, "SELECT sum(v) FROM big").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if i < 30 {
				var p string
				if err := conn.QueryRow(ctx, "SELECT payload FROM small WHERE k = $1", i*97+1).Scan(&p); err != nil {
					t.Fatal(err)
				}
			}
		}
		choice := func() []string { return proposalNames(t, db.DSN) }
		before := choice()
		if len(before) == 0 || !strings.Contains(strings.Join(before, ","), "small_k") {
			t.Fatalf("without table-less statements the choice is %v, want the index on small (k)", before)
		}
		tablelessCalls(t, db)
		var calls int64
		conn.QueryRow(ctx, "SELECT calls FROM pg_stat_statements WHERE query = 'SELECT now()'").Scan(&calls)
		if calls < 10000 {
			t.Fatalf("SELECT now() has %d calls in pg_stat_statements, want 10,000", calls)
		}
		if after := choice(); strings.Join(before, ",") != strings.Join(after, ",") {
			t.Errorf("the choice moved with 10,000 calls of each table-less statement:\nbefore %v\nafter  %v", before, after)
		}
	})
}

// The booking workload's choice, with and without 10,000 calls of each table-less statement a
// pool and an ORM send (SELECT 1, SELECT now(), BEGIN/COMMIT, SET): the same indexes.
func TestBookingChoiceIgnoresTablelessStatements(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements", "hypopg"))
		ctx := t.Context()
		conn := db.Connect(t)
		if _, err := booking.Load(ctx, conn, booking.LoadOptions{Options: booking.Options{Scale: 0.2, Seed: 1}}); err != nil {
			t.Fatal(err)
		}
		exec1(t, conn, "SELECT pg_stat_statements_reset()")
		cfg, err := pgx.ParseConfig(db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := booking.Run(ctx, cfg, booking.RunOptions{Actions: 1500, Clients: 2, Seed: 1, BindAll: true}); err != nil {
			t.Fatal(err)
		}
		choice := func() string {
			names := proposalNames(t, db.DSN)
			slices.Sort(names)
			return strings.Join(names, "\n")
		}
		before := choice()
		if strings.Count(before, "\n") < 4 {
			t.Fatalf("the booking choice is only %q", before)
		}
		tablelessCalls(t, db)
		if after := choice(); after != before {
			t.Errorf("the booking choice moved with 10,000 calls of each table-less statement:\nbefore\n%s\nafter\n%s", before, after)
		}
	})
}

// generateProposals runs 'pgtune indexes generate' into a directory of the test's own and
// returns its proposals.
func generateProposals(t *testing.T, dsn string) []*indexes.Proposal {
	t.Helper()
	r := run(t, "indexes", "generate", "--dsn", dsn, "--dir", filepath.Join(t.TempDir(), "m"), "--format", "json")
	var doc struct {
		Result generateSummary `json:"result"`
	}
	if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &doc) != nil {
		t.Fatalf("indexes generate: exit %d\n%s\n%s", r.code, r.stderr, r.stdout)
	}
	return doc.Result.Proposals
}

// proposalNames are the names of generateProposals' indexes, in its order.
func proposalNames(t *testing.T, dsn string) []string {
	t.Helper()
	var names []string
	for _, p := range generateProposals(t, dsn) {
		names = append(names, p.Candidate.Name)
	}
	return names
}

// tablelessCalls sends 10,000 calls each of SELECT 1, SELECT now(), BEGIN, COMMIT and SET (a
// pool's health checks and session set-up), 500 a round trip: pg_stat_statements counts each
// statement of a multi-statement query.
func tablelessCalls(t *testing.T, db *pgtest.DB) {
	t.Helper()
	other := db.Connect(t)
	batch := strings.Repeat("SELECT 1; SELECT now(); BEGIN; COMMIT; SET application_name = 'pool'; ", 500)
	for range 20 {
		if _, err := other.Exec(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
}
