package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// engineCases holds the index engine's golden cases, one directory per failure class the
// issues named (a view, CTEs, an existing hash or primary-key index, a unique leading column, a
// bound LIKE, IS NULL, the bound queue poller, an IN list before a sort, equality + equality +
// range): setup.sql (schema and data), workload.sql (the statements, each with its calls and
// its bound arguments) and want.txt (the indexes 'pgtune indexes generate' proposes, one per
// line, or "(none)"). Refresh want.txt with go test ./internal/cli -run TestEngineCases -update.
var engineCases = filepath.Join("..", "..", "testdata", "engine")

// caseStatement is one block of workload.sql:
//
//	-- calls: 300
//	-- args: [42, "pending"]
//	SELECT ... WHERE a = $1 AND b = $2;
type caseStatement struct {
	sql   string
	calls int
	args  []any
}

func readWorkload(t *testing.T, path string) []caseStatement {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []caseStatement
	cur := caseStatement{calls: 1}
	var sql strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "-- calls:"):
			fmt.Sscanf(strings.TrimPrefix(line, "-- calls:"), "%d", &cur.calls)
		case strings.HasPrefix(line, "-- args:"):
			d := json.NewDecoder(strings.NewReader(strings.TrimPrefix(line, "-- args:")))
			d.UseNumber()
			var raw []any
			if err := d.Decode(&raw); err != nil {
				t.Fatalf("%s: args %q: %v", path, line, err)
			}
			for _, a := range raw {
				if n, ok := a.(json.Number); ok {
					if i, err := n.Int64(); err == nil {
						a = i
					} else {
						a, _ = n.Float64()
					}
				}
				cur.args = append(cur.args, a)
			}
		case line == "" || strings.HasPrefix(line, "--"):
		default:
			sql.WriteString(line + "\n")
			if strings.HasSuffix(line, ";") {
				cur.sql = strings.TrimSuffix(strings.TrimSpace(sql.String()), ";")
				out = append(out, cur)
				cur, sql = caseStatement{calls: 1}, strings.Builder{}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEngineCases runs each golden case on a database of its own: the setup, ANALYZE, the
// workload through the extended protocol (every value bound, as an ORM sends it), then 'pgtune
// indexes generate', whose proposals must be want.txt.
func TestEngineCases(t *testing.T) {
	entries, err := os.ReadDir(engineCases)
	if err != nil {
		t.Fatal(err)
	}
	pgtest.EachMajor(t, func(t *testing.T) {
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			dir := filepath.Join(engineCases, e.Name())
			t.Run(e.Name(), func(t *testing.T) {
				db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements", "hypopg"))
				conn := db.Connect(t)
				ctx := t.Context()
				setup, err := os.ReadFile(filepath.Join(dir, "setup.sql"))
				if err != nil {
					t.Fatal(err)
				}
				exec1(t, conn, string(setup), "ANALYZE", "SELECT pg_stat_statements_reset()")
				for _, st := range readWorkload(t, filepath.Join(dir, "workload.sql")) {
					for range st.calls {
						rows, err := conn.Query(ctx, st.sql, st.args...)
						if err != nil {
							t.Fatalf("%s: %v", st.sql, err)
						}
						rows.Close()
						if err := rows.Err(); err != nil {
							t.Fatalf("%s: %v", st.sql, err)
						}
					}
				}
				var got []string
				for _, p := range generateProposals(t, db.DSN) {
					got = append(got, p.Candidate.PlainDefinition())
				}
				slices.Sort(got)
				if len(got) == 0 {
					got = []string{"(none)"}
				}
				text := strings.Join(got, "\n") + "\n"
				want := filepath.Join(dir, "want.txt")
				if *update {
					if err := os.WriteFile(want, []byte(text), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				b, err := os.ReadFile(want)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(b, []byte(text)) {
					t.Errorf("%s: the engine proposes\n%s\nwant\n%s(rerun with -update if the change is intended)", e.Name(), text, b)
				}
			})
		}
	})
}
