package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/report"
	"github.com/bookedbarber/pgtune/query"
	"github.com/bookedbarber/pgtune/workload"
)

var demoWorkloadCmd = &command{
	name:    "demo workload",
	summary: "list the booking app's statements and their frequencies",
	help: `Usage: pgtune demo workload [flags]

Lists the booking demo's query mix: every statement the app sends, what it is for, the
tables it reads and writes (parsed with PostgreSQL's own parser) and how often it runs per
1,000 user actions. Needs no database.

Examples:
  pgtune demo workload
  pgtune demo workload --sql --format markdown > workload.md
`,
	run: runDemoWorkload,
}

type workloadStatement struct {
	Name        string                 `json:"name"`
	Purpose     string                 `json:"purpose"`
	SQL         string                 `json:"sql"`
	Kind        workload.StatementKind `json:"kind"`
	Fingerprint string                 `json:"fingerprint"`
	Tables      []workload.TableRef    `json:"tables"`
	PerThousand float64                `json:"calls_per_1000_actions"`
}

func runDemoWorkload(_ context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e).withOutput()
	withSQL := fs.Bool("sql", false, "include each statement's SQL in the table")
	if err := fs.parse(args, false); err != nil {
		return err
	}
	mix := booking.Mix()
	out := make([]workloadStatement, 0, len(mix))
	cols := []string{"statement", "kind", "calls/1000", "tables", "purpose"}
	if *withSQL {
		cols = append(cols, "sql")
	}
	var rows [][]string
	for _, f := range mix {
		st, err := query.Parse(f.SQL)
		if err != nil {
			return fmt.Errorf("demo statement %s: %w", f.Name, err)
		}
		out = append(out, workloadStatement{Name: f.Name, Purpose: f.Purpose, SQL: f.SQL, Kind: st.Kind,
			Fingerprint: st.Fingerprint, Tables: st.Tables, PerThousand: f.PerThousand})
		var tables []string
		for _, t := range st.Tables {
			if s := t.Name + " (" + string(t.Access) + ")"; !slices.Contains(tables, s) {
				tables = append(tables, s)
			}
		}
		row := []string{f.Name, string(st.Kind), fmt.Sprintf("%.1f", f.PerThousand), strings.Join(tables, ", "), f.Purpose}
		if *withSQL {
			row = append(row, strings.Join(strings.Fields(f.SQL), " "))
		}
		rows = append(rows, row)
	}
	return fs.write(out, report.Table{
		Title:   fmt.Sprintf("Booking demo: %d statements, most frequent first", len(out)),
		Columns: cols,
		Rows:    rows,
		Note:    "Load it with 'pgtune demo load', run it with 'pgtune demo run'.",
	})
}
