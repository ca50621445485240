package maintenance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStatementByVersion(t *testing.T) {
	vac := &Action{Table: "public.appointments", Kind: "table", Ops: []Operation{OpVacuum, OpAnalyze}, Indexes: 3}
	freeze := &Action{Table: "billing.Payments", Kind: "table", Ops: []Operation{OpFreeze}, Indexes: 1}
	parent := &Action{Table: "public.events", Kind: "partitioned", Ops: []Operation{OpAnalyze}}
	o := RunOptions{Parallel: 2, BufferUsageLimit: "256MB"}
	tests := []struct {
		a       *Action
		version int
		o       RunOptions
		want    string
	}{
		{vac, 130000, o, `VACUUM (SKIP_LOCKED, VERBOSE, ANALYZE, TRUNCATE false, PARALLEL 2) public.appointments`},
		{vac, 140000, o, `VACUUM (SKIP_LOCKED, VERBOSE, ANALYZE, TRUNCATE false, PROCESS_TOAST true, PARALLEL 2) public.appointments`},
		{vac, 160000, o, `VACUUM (SKIP_LOCKED, VERBOSE, ANALYZE, TRUNCATE false, PROCESS_TOAST true, PARALLEL 2, BUFFER_USAGE_LIMIT '256MB') public.appointments`},
		{vac, 160000, RunOptions{Truncate: true}, `VACUUM (SKIP_LOCKED, VERBOSE, ANALYZE, PROCESS_TOAST true) public.appointments`},
		{freeze, 150000, o, `VACUUM (FREEZE, SKIP_LOCKED, VERBOSE, TRUNCATE false, PROCESS_TOAST true) billing."Payments"`}, // one index: no PARALLEL
		{parent, 170000, o, `ANALYZE (SKIP_LOCKED, VERBOSE, BUFFER_USAGE_LIMIT '256MB') public.events`},
		{&Action{Table: "public.t", Ops: []Operation{OpFreeze}, Emergency: true}, 150000, RunOptions{IndexCleanup: "on"}, `VACUUM (FREEZE, SKIP_LOCKED, VERBOSE, TRUNCATE false, INDEX_CLEANUP false, PROCESS_TOAST true) public.t`},
		{vac, 150000, RunOptions{IndexCleanup: "auto"}, `VACUUM (SKIP_LOCKED, VERBOSE, ANALYZE, TRUNCATE false, INDEX_CLEANUP AUTO, PROCESS_TOAST true) public.appointments`},
		{vac, 130000, RunOptions{IndexCleanup: "off"}, `VACUUM (SKIP_LOCKED, VERBOSE, ANALYZE, TRUNCATE false, INDEX_CLEANUP false) public.appointments`},
		{parent, 180000, o, `ANALYZE (SKIP_LOCKED, VERBOSE, BUFFER_USAGE_LIMIT '256MB') ONLY public.events`},
	}
	for _, tt := range tests {
		if got := Statement(tt.a, tt.version, tt.o); got != tt.want {
			t.Errorf("%s on %d:\n got %s\nwant %s", tt.a.Table, tt.version, got, tt.want)
		}
	}
}

func TestHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	h, err := ReadHistory(path)
	if err != nil || len(h) != 0 {
		t.Fatalf("a missing file: %v, %v", h, err)
	}
	sum := &Summary{Results: []Result{
		{Table: "public.a", Ops: []Operation{OpVacuum}, Status: StatusDone, Duration: 2 * time.Second, Pages: 1000},
		{Table: "public.b", Ops: []Operation{OpVacuum}, Status: StatusSkipped, Pages: 1000},
	}}
	if err := AppendHistory(path, sum); err != nil {
		t.Fatal(err)
	}
	sum.Results[0].Duration = 4 * time.Second // a later, slower run wins
	if err := AppendHistory(path, sum); err != nil {
		t.Fatal(err)
	}
	h, err = ReadHistory(path)
	if err != nil || len(h) != 1 || h[HistoryKey("public.a", OpVacuum)] != 0.004 {
		t.Errorf("history %v, %v", h, err)
	}
	if err := os.WriteFile(path, []byte("not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadHistory(path); err == nil || !strings.Contains(err.Error(), ":1: not a pgtune maintenance result") {
		t.Errorf("a garbled history: %v", err)
	}
}
