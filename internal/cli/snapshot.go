package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/dbstate/snapshot"
	"github.com/bookedbarber/pgtune/internal/report"
)

var snapshotCmd = &command{
	name:    "snapshot",
	summary: "save what the advisor reads from a database to a file, for offline analysis (read-only)",
	help: `Usage: pgtune snapshot --out FILE [flags]

Reads everything 'pgtune advise' needs from a database (pg_stat_statements, the catalog:
tables, columns, indexes, constraints, triggers; statistics: pg_stats, pg_stat_user_tables and
pg_stat_user_indexes; settings) and writes it to one versioned JSON file, gzipped when FILE
ends in .gz. 'pgtune advise --snapshot FILE' then gives the same findings anywhere, without a
connection. It only reads; a role with pg_monitor is enough (what it cannot read is listed in
the file's "gaps").

The file is written to a temporary name and renamed when complete, with mode 0600: column
statistics hold sample values of the data, and statement samples hold the constants the
application writes into its SQL. --no-values leaves both out. --out - writes to stdout.

Examples:
  pgtune snapshot --dsn postgres://monitor@db.internal/booking --out booking.json.gz
  pgtune snapshot --out prod.json.gz --sample 30s      # catch the app's literal constants
  pgtune advise --snapshot booking.json.gz
`,
	run: runSnapshot,
}

// snapshotSummary is snapshot's JSON document (docs/json.md).
type snapshotSummary struct {
	File        string        `json:"file"`
	Bytes       int64         `json:"bytes"`
	Database    string        `json:"database"`
	Server      string        `json:"server_version"`
	TakenAt     string        `json:"taken_at"`
	Tables      int           `json:"tables"`
	Indexes     int           `json:"indexes"`
	ColumnStats int           `json:"column_stats"`
	Statements  int           `json:"statements"`
	Samples     int           `json:"samples"`
	Gaps        []dbstate.Gap `json:"gaps,omitempty"`
}

func runSnapshot(ctx context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e).withConnection().withOutput()
	var src sourceFlags
	src.addLive(fs)
	out := fs.String("out", "", "file to write (required; .gz compresses; - for stdout)")
	fs.BoolVar(&src.noValues, "no-values", false, "leave out data values: pg_stats' common values and histograms, and statement samples")
	if err := fs.parse(args, false); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf("snapshot: --out FILE is required (e.g. --out booking.json.gz)")
	}
	if *out != "-" {
		// Fail before the work, not after it.
		if err := checkOut(cmd.name, *out); err != nil {
			return err
		}
	}
	snap, _, err := src.load(ctx, fs, "snapshot")
	if err != nil {
		return err
	}
	if *out == "-" {
		if err := snapshot.Write(e.stdout, snap, false); err != nil {
			return fmt.Errorf("write the snapshot: %w", err)
		}
		return nil
	}
	if err := snapshot.WriteFile(*out, snap); err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	sum := snapshotSummary{File: *out, Bytes: st.Size(), Database: snap.Server.Database, Server: snap.Server.Version,
		TakenAt: snap.TakenAt.Format("2006-01-02T15:04:05Z"), Tables: len(snap.Tables), Indexes: len(snap.Indexes),
		ColumnStats: len(snap.ColumnStats), Statements: len(snap.Statements.Rows), Samples: len(snap.Statements.Samples), Gaps: snap.Gaps}
	rows := [][]string{
		{"database", sum.Database + " (PostgreSQL " + strings.Fields(sum.Server + " ?")[0] + ")"},
		{"tables", fmt.Sprint(sum.Tables)},
		{"indexes", fmt.Sprint(sum.Indexes)},
		{"column statistics", fmt.Sprint(sum.ColumnStats)},
		{"pg_stat_statements rows", fmt.Sprint(sum.Statements)},
		{"statement samples", fmt.Sprint(sum.Samples)},
	}
	for _, g := range snap.Gaps {
		rows = append(rows, []string{"not collected: " + g.What, g.Reason})
	}
	return fs.write(sum, report.Table{
		Title:   fmt.Sprintf("Wrote %s (%s)", *out, bytesText(sum.Bytes)),
		Columns: []string{"what", "collected"},
		Rows:    rows,
		Note:    "Analyse it anywhere with: pgtune advise --snapshot " + *out,
	})
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
