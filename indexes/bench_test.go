package indexes_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/advisor"
	"github.com/bookedbarber/pgtune/advisor/collect"
	"github.com/bookedbarber/pgtune/advisor/model"
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
	var rows []model.StatementRow
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
			rows = append(rows, model.StatementRow{QueryID: model.QueryID(i*100 + j), Query: qualify(f.SQL, schema),
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
	if rep.Workload.Statements != tenants*len(booking.Statements) {
		b.Fatalf("%d statements in the workload", rep.Workload.Statements)
	}
	for b.Loop() {
		w, err := NewWhatIf(ctx, db.Connect(b), snap.Server.VersionNum)
		if err != nil {
			b.Fatal(err)
		}
		began := time.Now()
		cands := Generate(rep.Model, rep.Catalog)
		res, err := Select(ctx, rep.Model, rep.Catalog, cands, w, Options{})
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
