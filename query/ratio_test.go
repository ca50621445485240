package query_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/bookedbarber/pgtune/workload/build"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	pgtune "github.com/bookedbarber/pgtune"
	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/query"
)

// BenchmarkModelVersusParse measures, interleaved in one run so drift on a shared machine hits
// all three alike, on the same 5,000 distinct statements:
//   - parse: pg_query.Parse alone, one core (the baseline);
//   - model: query.ParseText (parse, fingerprint, typed model), one core;
//   - workload: advisor.BuildWorkload, the whole analysis (model, merge by fingerprint, resolve
//     against the catalog, access patterns), which parses on every core.
//
// It reports each one's seconds and the ratios model/parse and workload/parse (targets: model at
// most 1.5x, everything under 2 s).
//
//	go test -run '^$' -bench ModelVersusParse -benchtime 10x ./query/
func BenchmarkModelVersusParse(b *testing.B) {
	texts := query.WorkloadTexts(5000)
	rows := make([]dbstate.StatementRow, len(texts))
	for i, s := range texts {
		rows[i] = dbstate.StatementRow{QueryID: dbstate.QueryID(i), Query: s, Calls: 10, TotalExecMs: 1, Rows: 10}
	}
	snap, err := build.SnapshotFromDump(pgtune.BookingSchema, &dbstate.Statements{Rows: rows}, time.Now(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	cat := dbstate.NewCatalog(snap)
	var parse, mod, work time.Duration
	for b.Loop() {
		t0 := time.Now()
		for _, s := range texts {
			if _, err := pg_query.Parse(s); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for _, s := range texts {
			if st, p, _ := query.ParseText(s, 0); st == nil {
				b.Fatal(p)
			}
		}
		t2 := time.Now()
		if w := build.Workload(snap, cat, nil); len(w.Statements) != len(texts) {
			b.Fatalf("%d statements", len(w.Statements))
		}
		t3 := time.Now()
		parse, mod, work = parse+t1.Sub(t0), mod+t2.Sub(t1), work+t3.Sub(t2)
	}
	n := float64(b.N)
	b.ReportMetric(parse.Seconds()/n, "parse-s")
	b.ReportMetric(mod.Seconds()/n, "model-s")
	b.ReportMetric(work.Seconds()/n, "workload-s")
	b.ReportMetric(float64(mod)/float64(parse), "model/parse")
	b.ReportMetric(float64(work)/float64(parse), "workload/parse")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
}
