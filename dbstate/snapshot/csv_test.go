package snapshot

import (
	"strings"
	"testing"
)

func TestReadStatementsCSV(t *testing.T) {
	csv := "userid,dbid,toplevel,queryid,query,plans,total_plan_time,calls,total_exec_time,mean_exec_time,rows,shared_blks_hit,wal_bytes\n" +
		"10,5,t,-42,\"SELECT a, b FROM t WHERE c = $1\",0,0,12,3.5,0.29,12,40,0\n" +
		"10,5,f,43,\"SELECT 2\",0,0,1,0.1,0.1,1,0,0\n" +
		"11,5,t,,<insufficient privilege>,0,0,5,9,1.8,5,0,0\n" +
		"10,5,t,44,/* pgtune */ SELECT 1,0,0,1,1,1,1,0,0\n"
	st, err := ReadStatementsCSV(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Rows) != 2 || st.Hidden != 1 || st.HiddenCalls != 5 || st.Own != 1 || st.Dealloc != -1 {
		t.Fatalf("%+v", st)
	}
	r := st.Rows[0]
	if r.QueryID != -42 || r.Query != "SELECT a, b FROM t WHERE c = $1" || r.Calls != 12 || r.TotalExecMs != 3.5 ||
		r.Rows != 12 || r.SharedBlksHit != 40 || !r.Toplevel || st.Rows[1].Toplevel {
		t.Errorf("row: %+v", r)
	}
	// PostgreSQL 12's names.
	old := "queryid,query,calls,total_time,mean_time\n1,SELECT 1,2,4,2\n"
	if st, err := ReadStatementsCSV(strings.NewReader(old)); err != nil || st.Rows[0].TotalExecMs != 4 || st.Rows[0].MeanExecMs != 2 {
		t.Errorf("old names: %v %+v", err, st)
	}
}

func TestReadStatementsCSVErrors(t *testing.T) {
	cases := map[string]string{
		"":                                      "is empty",
		"queryid,query\n1,x\n":                  "lacks column(s) calls, total_exec_time",
		"query,calls,total_exec_time\nx,-1,1\n": `calls is "-1"`,
		"queryid,query,calls,total_exec_time\nabc,x,1,1\n":        `queryid "abc"`,
		"queryid,query,calls,total_exec_time\n1,\"unclosed,1,1\n": "does not parse",
		"queryid,query,calls,total_exec_time\n1,x\n":              "has 2 fields",
	}
	for in, want := range cases {
		if _, err := ReadStatementsCSV(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

// FuzzReadStatementsCSV: exports come from other tools; a bad one is refused, never a panic.
func FuzzReadStatementsCSV(f *testing.F) {
	f.Add("queryid,query,calls,total_exec_time\n1,SELECT 1,2,3\n")
	f.Add("dbid,queryid,query,calls,total_time,rows\n1,,<insufficient privilege>,1,1,1\n")
	f.Fuzz(func(t *testing.T, in string) {
		st, err := ReadStatementsCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range st.Rows {
			if r.Calls < 0 || r.TotalExecMs < 0 {
				t.Fatalf("negative counters accepted: %+v", r)
			}
		}
	})
}
