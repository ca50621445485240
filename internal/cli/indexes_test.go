package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// indexes generate, run while the app works (so its literal constants are sampled), writes one
// CREATE INDEX CONCURRENTLY per file with a matching down file; a second run writes nothing.
func TestIndexesGenerate(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements", "hypopg"))
		conn := db.Connect(t)
		ctx := t.Context()
		if _, err := booking.Load(ctx, conn, booking.LoadOptions{Options: booking.Options{Scale: 0.3, Seed: 1}}); err != nil {
			t.Fatal(err)
		}
		exec1(t, conn, "SELECT pg_stat_statements_reset()")
		cfg, err := pgx.ParseConfig(db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := booking.Run(ctx, cfg, booking.RunOptions{Actions: 1500, Clients: 3, Seed: 1}); err != nil {
			t.Fatal(err)
		}
		// generate runs while the app works, as it would in production: its samples catch the
		// app's literal constants.
		whileAppRuns := func(seed uint64, args ...string) result {
			app := make(chan error, 1)
			go func() {
				_, err := booking.Run(ctx, cfg, booking.RunOptions{Actions: 1500, Clients: 3, Seed: seed})
				app <- err
			}()
			r := run(t, args...)
			if err := <-app; err != nil {
				t.Fatal(err)
			}
			return r
		}
		dir := filepath.Join(t.TempDir(), "migrations")
		r := whileAppRuns(2, "indexes", "generate", "--dsn", db.DSN, "--dir", dir, "--sample", "2s", "--format", "json")
		if r.code != ExitOK {
			t.Fatalf("generate: exit %d: %s", r.code, r.stderr)
		}
		var doc struct {
			Result generateSummary `json:"result"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatal(err)
		}
		// A migration pair per proposal, and one per extension a proposal needs (pg_trgm for a
		// trigram index), in front of it.
		needs := map[string]bool{}
		for _, p := range doc.Result.Proposals {
			if p.Candidate.Needs != "" {
				needs[p.Candidate.Needs] = true
			}
		}
		if len(doc.Result.Proposals) < 3 || len(doc.Result.Files) != 2*(len(doc.Result.Proposals)+len(needs)) || doc.Result.FinalCost*3 > doc.Result.BaseCost {
			t.Fatalf("generate: %d proposals, %d files, cost %.0f -> %.0f", len(doc.Result.Proposals), len(doc.Result.Files), doc.Result.BaseCost, doc.Result.FinalCost)
		}
		// advise, on the same live database with HypoPG, carries the engine's proposals as findings.
		ad := advise(t, "--dsn", db.DSN)
		creates := 0
		for _, f := range ad.Result.Findings {
			if f.Rule == "index.create" {
				creates++
				sql := strings.TrimPrefix(f.SQL, "CREATE EXTENSION IF NOT EXISTS pg_trgm;\n") // a trigram index's extension first
				if !f.Live || !strings.HasPrefix(sql, "CREATE INDEX CONCURRENTLY IF NOT EXISTS") || f.Index == nil || len(f.Statements) == 0 {
					t.Errorf("index finding: %+v", f)
				}
			}
			if f.Rule == "index.engine_unavailable" {
				t.Errorf("advise says the engine is unavailable: %s", f.Title)
			}
		}
		if creates < 3 {
			t.Errorf("advise has %d index.create findings", creates)
		}

		statement := regexp.MustCompile(`(?m)^[^-\n].*;$`)
		for _, f := range doc.Result.Files {
			if strings.Contains(f, "_create_extension_") {
				continue
			}
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			stmts := statement.FindAllString(string(body), -1)
			want := "CREATE INDEX CONCURRENTLY IF NOT EXISTS "
			if strings.HasSuffix(f, ".down.sql") {
				want = "DROP INDEX CONCURRENTLY IF EXISTS public."
			}
			if len(stmts) != 1 || !strings.HasPrefix(stmts[0], want) {
				t.Errorf("%s: %q", f, stmts)
			}
		}
		// The indexes DIR plans count as in place: a second run (on a workload that has moved on)
		// never proposes one of them again and never touches the files already there.
		before, _ := os.ReadDir(dir)
		r = whileAppRuns(3, "indexes", "generate", "--dsn", db.DSN, "--dir", dir, "--sample", "2s", "--format", "json")
		var again struct {
			Result generateSummary `json:"result"`
		}
		if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &again) != nil {
			t.Fatalf("second run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		first := map[string]bool{}
		for _, p := range doc.Result.Proposals {
			first[p.Candidate.Signature()] = true
		}
		for _, p := range again.Result.Proposals {
			if first[p.Candidate.Signature()] {
				t.Errorf("the second run proposed %s again", p.Candidate.Name)
			}
		}
		for _, e := range before {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err != nil || len(b) == 0 {
				t.Errorf("%s changed: %v", e.Name(), err)
			}
		}

		// The generated files apply, re-apply as a no-op, and roll back.
		r = run(t, "migrate", "up", "--dsn", db.DSN, "--dir", dir, "--format", "json")
		var up struct {
			Result migrateResult `json:"result"`
		}
		if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &up) != nil || len(up.Result.Result.Applied) != len(doc.Result.Files)/2+len(again.Result.Files)/2 {
			t.Fatalf("migrate up: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		var invalid int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_index WHERE NOT indisvalid").Scan(&invalid); err != nil || invalid != 0 {
			t.Errorf("%d invalid indexes after migrate up (%v)", invalid, err)
		}
		for _, p := range doc.Result.Proposals {
			var n int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_indexes WHERE indexname = $1", p.Candidate.Name).Scan(&n); err != nil || n != 1 {
				t.Errorf("index %s missing after migrate up", p.Candidate.Name)
			}
		}
		if r := run(t, "migrate", "up", "--dsn", db.DSN, "--dir", dir); r.code != ExitOK || !strings.Contains(r.stdout, "Nothing to do") {
			t.Errorf("second migrate up: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if r := run(t, "migrate", "status", "--dsn", db.DSN, "--dir", dir); r.code != ExitOK || !strings.Contains(r.stdout, "0 pending") {
			t.Errorf("migrate status: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if r := run(t, "migrate", "down", "--all", "--dsn", db.DSN, "--dir", dir); r.code != ExitOK || !strings.Contains(r.stdout, "-> none") {
			t.Errorf("migrate down --all: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		for _, p := range doc.Result.Proposals {
			var n int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_indexes WHERE indexname = $1", p.Candidate.Name).Scan(&n); err != nil || n != 0 {
				t.Errorf("index %s still there after migrate down --all", p.Candidate.Name)
			}
		}

		// --include-drops adds a migration dropping a planted duplicate, concurrently, with a down
		// file that builds it again.
		exec1(t, conn, "CREATE INDEX appointments_barber_dup ON appointments (barber_id)")
		dropDir := filepath.Join(t.TempDir(), "drops")
		r = run(t, "indexes", "generate", "--dsn", db.DSN, "--dir", dropDir, "--include-drops")
		if r.code != ExitOK {
			t.Fatalf("--include-drops: exit %d\n%s", r.code, r.stderr)
		}
		// barber_id_idx may go too, when a chosen index leads with barber_id (it then serves the
		// foreign key as well); an unused index that serves a foreign key is never dropped otherwise.
		dup, _ := filepath.Glob(filepath.Join(dropDir, "*_drop_appointments_barber_dup.up.sql"))
		if len(dup) != 1 {
			t.Errorf("no drop migration for the duplicate:\n%s", r.stdout)
		} else if b, _ := os.ReadFile(dup[0]); !strings.Contains(string(b), "DROP INDEX CONCURRENTLY IF EXISTS public.appointments_barber_dup;") {
			t.Errorf("drop migration:\n%s", b)
		}
		all, _ := filepath.Glob(filepath.Join(dropDir, "*_drop_*.up.sql"))
		t.Logf("drop migrations: %v", all)
		if other, _ := filepath.Glob(filepath.Join(dropDir, "*_drop_appointments_barber_id_idx.up.sql")); len(other) == 1 {
			b, _ := os.ReadFile(other[0])
			creates, _ := filepath.Glob(filepath.Join(dropDir, "*_create_appointments_barber_id_*.up.sql"))
			if !strings.Contains(string(b), "leads with the same keys") || len(creates) == 0 || filepath.Base(creates[0]) > filepath.Base(other[0]) {
				t.Errorf("barber_id_idx dropped without a replacement built first (%v):\n%s", creates, b)
			}
		}
		exec1(t, conn, "DROP INDEX appointments_barber_dup")

		// The generated files pass the linter, checked against the live catalog; a planted bad file
		// fails it with exit 1.
		if r := run(t, "migrate", "lint", "--dsn", db.DSN, dir); r.code != ExitOK || !strings.Contains(r.stdout, "0 errors, 0 warnings") {
			t.Errorf("lint of the generated files: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		bad := filepath.Join(t.TempDir(), "000001_bad.up.sql")
		os.WriteFile(bad, []byte("CREATE INDEX appointments_status ON appointments (status);\nDROP INDEX appointments_barber_id_idx;\n"), 0o644)
		r = run(t, "migrate", "lint", "--dsn", db.DSN, "--format", "json", bad)
		if r.code != ExitFindings || !strings.Contains(r.stdout, "lint.index_not_concurrent") || !strings.Contains(r.stdout, "lint.missing_if_exists") {
			t.Errorf("lint of a bad file: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}

		// Without HypoPG, costs are estimated from the statistics, and the files say so.
		bare := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
		bareConn := bare.Connect(t)
		if _, err := booking.Load(ctx, bareConn, booking.LoadOptions{Options: booking.Options{Scale: 0.1, Seed: 1}}); err != nil {
			t.Fatal(err)
		}
		bareCfg, _ := pgx.ParseConfig(bare.DSN)
		if _, err := booking.Run(ctx, bareCfg, booking.RunOptions{Actions: 600, Clients: 2, Seed: 1}); err != nil {
			t.Fatal(err)
		}
		estDir := filepath.Join(t.TempDir(), "m")
		r = run(t, "indexes", "generate", "--dsn", bare.DSN, "--dir", estDir)
		if r.code != ExitOK || !strings.Contains(r.stdout, "no HypoPG here") {
			t.Fatalf("no HypoPG: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		ups, _ := filepath.Glob(filepath.Join(estDir, "*.up.sql"))
		if len(ups) == 0 {
			t.Fatal("no migration written from the estimate")
		}
		for _, f := range ups {
			if strings.Contains(f, "_create_extension_") {
				continue // the extension a trigram index needs: no costs to state
			}
			if b, _ := os.ReadFile(f); !strings.Contains(string(b), "not proven by the planner") {
				t.Errorf("%s does not say its costs are estimated", f)
			}
		}
		// From the bundled demo's snapshot, offline.
		r = run(t, "indexes", "generate", "--demo", "--dir", filepath.Join(t.TempDir(), "demo"), "--format", "json")
		var demo struct {
			Result generateSummary `json:"result"`
		}
		if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &demo) != nil || !demo.Result.Estimated || len(demo.Result.Proposals) < 3 {
			t.Errorf("--demo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		for _, c := range []struct {
			args []string
			msg  string
		}{
			{[]string{"indexes"}, "want the subcommand generate"},
			{[]string{"indexes", "generate"}, "--dir DIR is required"},
			{[]string{"indexes", "generate", "--dir", dir, "--budget", "lots"}, "not a size"},
			{[]string{"migrate"}, "missing subcommand"},
			{[]string{"migrate", "sideways"}, "unknown subcommand"},
			{[]string{"migrate", "up"}, "--dir DIR is required"},
			{[]string{"migrate", "up", "--dir", filepath.Join(dir, "nope")}, "is not a directory"},
			{[]string{"migrate", "down", "--dir", dir, "--steps", "0"}, "--steps must be at least 1"},
			{[]string{"migrate", "lint"}, "name the migration files"},
			{[]string{"migrate", "lint", "--schema", "x.sql", "--dsn", "postgres://h/d", dir}, "choose one of --dsn and --schema"},
		} {
			if r := run(t, c.args...); r.code != ExitUsage || !strings.Contains(r.stderr, c.msg) {
				t.Errorf("%q: exit %d, stderr %q", c.args, r.code, r.stderr)
			}
		}
	})
}
