package booking

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

var loadScales = flag.String("load-scales", "1", "comma-separated scale factors for BenchmarkLoad and BenchmarkGenerate")

func scales(b *testing.B) []float64 {
	var out []float64
	for _, s := range strings.Split(*loadScales, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			b.Fatalf("-load-scales: %v", err)
		}
		out = append(out, v)
	}
	return out
}

// BenchmarkLoad is the demo's load time into a real server: schema, COPY of every table,
// constraints, indexes, VACUUM ANALYZE. docs/BENCHMARKS.md records it.
func BenchmarkLoad(b *testing.B) {
	for _, sf := range scales(b) {
		b.Run(fmt.Sprintf("sf=%g", sf), func(b *testing.B) {
			var rows int64
			for range b.N {
				b.StopTimer()
				db := pgtest.New(b)
				conn := db.Connect(b)
				b.StartTimer()
				res, err := Load(b.Context(), conn, LoadOptions{Options: Options{Scale: sf, Seed: 1, Reference: testReference}})
				if err != nil {
					b.Fatal(err)
				}
				rows = res.Rows
			}
			b.ReportMetric(float64(rows), "rows")
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkGenerate is the generator alone, no database: compared with BenchmarkLoad in the same
// run it shows how much of a load is Go and how much is PostgreSQL.
func BenchmarkGenerate(b *testing.B) {
	for _, sf := range scales(b) {
		b.Run(fmt.Sprintf("sf=%g", sf), func(b *testing.B) {
			p, err := NewPlan(Options{Scale: sf, Seed: 1, Reference: testReference})
			if err != nil {
				b.Fatal(err)
			}
			var rows int64
			for range b.N {
				rows = 0
				for _, src := range sources {
					for range src.rows(p) {
						rows++
					}
				}
			}
			b.ReportMetric(float64(rows), "rows")
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
