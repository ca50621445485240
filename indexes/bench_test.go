package indexes_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/advisor"
	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/dbstate/collect"
	. "github.com/bookedbarber/pgtune/indexes"
	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// tenants is the synthetic workload's size: 10 schemas × the demo's 50 statements = 500.
const tenants = 10

// BenchmarkSelect500 is the index engine's cost on a synthetic 500-statement workload: ten
// schema-per-tenant copies of the booking demo (scale 0.03 each), the demo's 50 statements
// qualified per tenant with the mix's call counts, candidates priced with HypoPG. It reports the
// EXPLAINs and the candidates. Target: under 30 s.
//
//	CI=true go test -run '^$' -bench Select500 -benchtime 1x ./indexes/
func BenchmarkSelect500(b *testing.B) {
	db := pgtest.New(b, pgtest.WithExtensions("hypopg"))
	conn := db.Connect(b)
	ctx := b.Context()
	var rows []dbstate.StatementRow
	for i := range tenants {
		schema := fmt.Sprintf("tenant_%c", 'a'+i)
		for _, sql := range []string{"CREATE SCHEMA " + schema, "SET search_path = " + schema} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := booking.Load(ctx, conn, booking.LoadOptions{Options: booking.Options{Scale: 0.03, Seed: uint64(i + 1)}}); err != nil {
			b.Fatal(err)
		}
		for j, f := range booking.Mix() {
			rows = append(rows, dbstate.StatementRow{QueryID: dbstate.QueryID(i*100 + j), Query: qualify(f.SQL, schema),
				Calls: int64(f.PerThousand*20) + 1, TotalExecMs: f.PerThousand, Rows: int64(f.PerThousand*20) + 1})
		}
	}
	if _, err := conn.Exec(ctx, "RESET search_path"); err != nil {
		b.Fatal(err)
	}
	snap, err := collect.Collect(ctx, conn, collect.Options{CatalogOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	snap.Statements.Rows = rows
	rep, err := advisor.Advise(ctx, snap, advisor.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if rep.Summary.Statements != tenants*len(booking.Statements) {
		b.Fatalf("%d statements in the workload", rep.Summary.Statements)
	}
	benchSelect(b, db, rep, snap.Server.VersionNum, 1)
}

// benchSelect runs Generate + Select with HypoPG once per iteration, on sessions planner
// sessions, and reports the EXPLAINs, candidates, proposals and seconds.
func benchSelect(b *testing.B, db *pgtest.DB, rep *advisor.Report, versionNum, sessions int) {
	for b.Loop() {
		w, err := NewWhatIf(b.Context(), db.Connect(b), versionNum)
		if err != nil {
			b.Fatal(err)
		}
		if sessions > 1 {
			w.Parallel(sessions, func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, db.DSN) }, nil)
		}
		began := time.Now()
		cands := Generate(rep.Workload, rep.Catalog)
		res, err := Select(b.Context(), rep.Workload, rep.Catalog, cands, w, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(w.Explains), "EXPLAINs")
		b.ReportMetric(float64(len(cands)), "candidates")
		b.ReportMetric(float64(len(res.Proposals)), "proposals")
		b.ReportMetric(time.Since(began).Seconds(), "s")
	}
}

// qualify puts a schema in front of the booking tables a statement names.
func qualify(sql, schema string) string {
	for _, t := range booking.Tables {
		for _, kw := range []string{"FROM ", "JOIN ", "INTO ", "UPDATE "} {
			sql = strings.ReplaceAll(sql, kw+t+" ", kw+schema+"."+t+" ")
			sql = strings.ReplaceAll(sql, kw+t+"\n", kw+schema+"."+t+"\n")
			if strings.HasSuffix(sql, kw+t) {
				sql = strings.TrimSuffix(sql, t) + schema + "." + t
			}
		}
	}
	return sql
}

// BenchmarkSelectScaling is the index engine's cost as the workload grows: N distinct statements
// (100, 300, 1,000, 5,000: a full pg_stat_statements) on one wide table of 40 columns, and the
// same N spread over 20 such tables. Each statement is one to three equality conditions, maybe a
// range, maybe an ORDER BY ... LIMIT, on columns of varied cardinality, drawn with a fixed seed.
// It reports the EXPLAINs, candidates, proposals and seconds of Generate + Select, on one planner
// session and on two (advise's default).
//
//	CI=true go test -run '^$' -bench SelectScaling -benchtime 1x -timeout 60m ./indexes/
func BenchmarkSelectScaling(b *testing.B) {
	db := pgtest.New(b, pgtest.WithExtensions("hypopg"))
	conn := db.Connect(b)
	ctx := b.Context()
	const columns = 40
	cards := []int{2, 3, 5, 10, 20, 50, 100, 500, 1000, 5000, 20000, 100000}
	create := func(name string, rows int) {
		var cols, sel []string
		for k := 1; k <= columns; k++ {
			cols = append(cols, fmt.Sprintf("c%d int", k))
			// Each column its own cardinality and its own scatter of values.
			sel = append(sel, fmt.Sprintf("(g * %d) %% %d", []int{7, 11, 13, 17, 19, 23, 29, 31}[k%8], cards[k%len(cards)]))
		}
		for _, sql := range []string{
			"CREATE TABLE " + name + " (id bigint PRIMARY KEY, " + strings.Join(cols, ", ") + ")",
			fmt.Sprintf("INSERT INTO %s SELECT g, %s FROM generate_series(1, %d) g", name, strings.Join(sel, ", "), rows),
			"ANALYZE " + name,
		} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				b.Fatal(err)
			}
		}
	}
	create("wide", 100000)
	var many []string
	for i := range 20 {
		many = append(many, fmt.Sprintf("wide_%02d", i))
		create(many[i], 20000)
	}
	snap, err := collect.Collect(ctx, conn, collect.Options{CatalogOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	for _, layout := range []struct {
		name   string
		tables []string
	}{{"one_table", []string{"wide"}}, {"20_tables", many}} {
		for _, n := range []int{100, 300, 1000, 5000} {
			s := *snap
			s.Statements.Rows = syntheticStatements(n, columns, layout.tables)
			rep, err := advisor.Advise(ctx, &s, advisor.Options{})
			if err != nil {
				b.Fatal(err)
			}
			for _, sessions := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%d/sessions=%d", layout.name, n, sessions), func(b *testing.B) {
					benchSelect(b, db, rep, snap.Server.VersionNum, sessions)
				})
			}
		}
	}
}

// syntheticStatements draws n distinct statements over the tables' columns c1..cN, with a fixed
// seed, and call counts spread over three orders of magnitude.
func syntheticStatements(n, columns int, tables []string) []dbstate.StatementRow {
	rng := rand.New(rand.NewPCG(42, 7))
	seen := map[string]bool{}
	var rows []dbstate.StatementRow
	for len(rows) < n {
		t := tables[rng.IntN(len(tables))]
		param := 0
		next := func() string { param++; return fmt.Sprintf("$%d", param) }
		var conds []string
		used := map[int]bool{}
		col := func() int {
			for {
				if k := 1 + rng.IntN(columns); !used[k] {
					used[k] = true
					return k
				}
			}
		}
		for range 1 + rng.IntN(3) {
			conds = append(conds, fmt.Sprintf("c%d = %s", col(), next()))
		}
		tail := ""
		if rng.IntN(2) == 0 {
			k := col()
			conds = append(conds, fmt.Sprintf("c%d >= %s", k, next()))
			if rng.IntN(2) == 0 {
				tail = fmt.Sprintf(" ORDER BY c%d LIMIT 10", k)
			}
		} else if rng.IntN(3) == 0 {
			tail = fmt.Sprintf(" ORDER BY c%d DESC LIMIT 10", col())
		}
		q := fmt.Sprintf("SELECT id, c%d FROM %s WHERE %s%s", 1+rng.IntN(columns), t, strings.Join(conds, " AND "), tail)
		if seen[q] {
			continue
		}
		seen[q] = true
		calls := int64(1 + rng.IntN(10)*int([]int{1, 10, 100}[rng.IntN(3)]))
		rows = append(rows, dbstate.StatementRow{QueryID: dbstate.QueryID(len(rows) + 1), Toplevel: true, Query: q,
			Calls: calls, TotalExecMs: float64(calls) * 5, MeanExecMs: 5, Rows: calls})
	}
	return rows
}
