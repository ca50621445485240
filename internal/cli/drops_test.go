package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// --include-drops on a real catalog: of two identical unique indexes the one a foreign key
// checks through stays (the other goes); an index a constraint uses is never dropped; a drop
// that rests on an index this run drops is not written (a used prefix stays when the wider
// index goes as unused); and an unused index is dropped only when the statistics are known to be
// a week old: with stats_reset empty (never reset) nothing is "unused".
func TestIncludeDropsRules(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
		conn := db.Connect(t)
		exec1(t, conn,
			"CREATE TABLE r (id int PRIMARY KEY, code int NOT NULL)",
			"INSERT INTO r SELECT g, g FROM generate_series(1, 2000) g",
			// The foreign key checks through r_code_z, the only unique index on code when it is made...
			"CREATE UNIQUE INDEX r_code_z ON r (code)",
			"CREATE TABLE child (id int PRIMARY KEY, code int REFERENCES r (code))",
			// ... then a twin appears, whose name sorts first (the old rule kept it and dropped z).
			"CREATE UNIQUE INDEX r_code_a ON r (code)",
			// A used narrow index, and the wider one it is a prefix of, never scanned.
			"CREATE TABLE p (id int PRIMARY KEY, a int, b int)",
			"INSERT INTO p SELECT g, g % 100, g % 7 FROM generate_series(1, 5000) g",
			"CREATE INDEX p_a ON p (a)",
			"CREATE INDEX p_a_b ON p (a, b)",
			"ANALYZE r, child, p",
		)
		for range 3 {
			exec1(t, conn, "SET enable_seqscan = off", "SELECT count(*) FROM p WHERE a = 5", "RESET enable_seqscan")
		}
		snapPath := filepath.Join(t.TempDir(), "snap.json")
		if r := run(t, "snapshot", "--dsn", db.DSN, "--out", snapPath); r.code != ExitOK {
			t.Fatalf("snapshot: exit %d: %s", r.code, r.stderr)
		}
		drops := func(t *testing.T, args ...string) []string {
			t.Helper()
			dir := filepath.Join(t.TempDir(), "m")
			r := run(t, append([]string{"indexes", "generate", "--dir", dir, "--include-drops", "--format", "json"}, args...)...)
			var doc struct {
				Result generateSummary `json:"result"`
			}
			if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &doc) != nil {
				t.Fatalf("generate %v: exit %d\n%s\n%s", args, r.code, r.stdout, r.stderr)
			}
			slices.Sort(doc.Result.Drops)
			return doc.Result.Drops
		}

		// Live, and from the snapshot as taken (stats_reset empty on 15+, the server just started
		// before that): the duplicate twin goes and the prefix p_a (p_a_b serves it), nothing is
		// unused, so p_a_b stays.
		for _, args := range [][]string{{"--dsn", db.DSN}, {"--snapshot", snapPath}} {
			if got := drops(t, args...); !slices.Equal(got, []string{"public.p_a", "public.r_code_a"}) {
				t.Errorf("%v: drops %v, want [public.p_a public.r_code_a] (r_code_z backs child_code_fkey; statistics too young for unused)", args[0], got)
			}
		}

		// Statistics known to be a month old: p_a_b (never scanned) goes as unused; p_a, a prefix
		// of p_a_b, would go too without the pair rule, and must stay.
		var snap map[string]any
		body, _ := os.ReadFile(snapPath)
		if err := json.Unmarshal(body, &snap); err != nil {
			t.Fatal(err)
		}
		month := time.Now().Add(-30 * 24 * time.Hour).UTC().Format(time.RFC3339)
		server := snap["server"].(map[string]any)
		server["stats_reset"], server["started_at"] = month, month
		aged := filepath.Join(t.TempDir(), "aged.json")
		body, _ = json.Marshal(snap)
		os.WriteFile(aged, body, 0o644)
		got := drops(t, "--snapshot", aged)
		if !slices.Contains(got, "public.p_a_b") || slices.Contains(got, "public.p_a") || slices.Contains(got, "public.r_code_z") ||
			slices.Contains(got, "public.r_pkey") || slices.Contains(got, "public.child_pkey") {
			t.Errorf("month-old statistics: drops %v, want p_a_b and r_code_a, never p_a (its wider index goes), r_code_z or a key", got)
		}
		if !strings.Contains(strings.Join(got, ","), "public.r_code_a") {
			t.Errorf("month-old statistics: the duplicate twin r_code_a is not dropped: %v", got)
		}
	})
}
