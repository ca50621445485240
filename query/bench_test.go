package query

import (
	"runtime"
	"strings"
	"syscall"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/bookedbarber/pgtune/internal/booking"
)

// WorkloadTexts is exported to the benchmarks of this directory (export_test.go pattern).
var WorkloadTexts = workloadTexts

// workloadTexts builds n distinct statements (distinct fingerprints, as pg_stat_statements holds
// them) from the booking demo's 50: each copy reads its own set of tables, the way a
// schema-per-tenant or partition-per-month application's statements differ.
func workloadTexts(n int) []string {
	out := make([]string, 0, n)
	for i := 0; len(out) < n; i++ {
		s := booking.Statements[i%len(booking.Statements)].SQL
		// Letters, not digits: fingerprints ignore numeric suffixes so that partitions
		// (events_2026_01) count as one table.
		suffix := "_" + letters(i/len(booking.Statements))
		for _, t := range booking.Tables {
			s = replaceTable(s, t, t+suffix)
		}
		out = append(out, s)
	}
	return out
}

func letters(n int) string {
	s := ""
	for {
		s = string(rune('a'+n%26)) + s
		n /= 26
		if n == 0 {
			return s
		}
	}
}

// replaceTable renames a table where it follows FROM, JOIN, INTO or UPDATE.
func replaceTable(s, from, to string) string {
	for _, kw := range []string{"FROM ", "JOIN ", "INTO ", "UPDATE "} {
		s = strings.ReplaceAll(s, kw+from+" ", kw+to+" ")
		s = strings.ReplaceAll(s, kw+from+"\n", kw+to+"\n")
		if strings.HasSuffix(s, kw+from) {
			s = strings.TrimSuffix(s, from) + to
		}
	}
	return s
}

func TestWorkloadTextsAreDistinct(t *testing.T) {
	texts := workloadTexts(5000)
	seen := map[string]bool{}
	for _, s := range texts {
		fp, err := Fingerprint(s)
		if err != nil {
			t.Fatalf("%v: %s", err, s)
		}
		seen[fp] = true
	}
	if len(seen) != 5000 {
		t.Errorf("%d distinct fingerprints, want 5000", len(seen))
	}
}

// BenchmarkParseOnly is the baseline: pg_query.Parse alone on 5,000 distinct texts.
func BenchmarkParseOnly(b *testing.B) {
	texts := workloadTexts(5000)
	for b.Loop() {
		for _, s := range texts {
			if _, err := pg_query.Parse(s); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportPeak(b)
}

// BenchmarkModel is what pgtune does per statement: parse, fingerprint and build the model.
func BenchmarkModel(b *testing.B) {
	texts := workloadTexts(5000)
	for b.Loop() {
		for _, s := range texts {
			if st, problem, _ := ParseText(s, 0); st == nil {
				b.Fatal(problem)
			}
		}
	}
	reportPeak(b)
}

// reportPeak adds the process's peak resident memory (and the Go heap in use) to the results.
func reportPeak(b *testing.B) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-inuse-MiB")
}
