package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/dbstate"
	"github.com/bookedbarber/pgtune/dbstate/collect"
	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/report"
	"github.com/bookedbarber/pgtune/maintenance"
)

var maintainCmd = &command{
	name:    "maintain",
	summary: "plan and run nightly VACUUM/ANALYZE/FREEZE inside a window, never blocking the app",
	help: `Usage: pgtune maintain <plan|run|schedule> [flags]

  pgtune maintain plan        what needs VACUUM, FREEZE or ANALYZE, and why, ranked (read-only)
  pgtune maintain run         do it inside a window (--until 05:00 or --max-duration 3h), skipping
                              what is locked instead of waiting (lock_timeout + SKIP_LOCKED)
  pgtune maintain schedule    print crontab, systemd, Kubernetes or pg_cron scheduling for it

The plan uses autovacuum's own triggers with every per-table setting respected: dead rows past
threshold + scale factor × rows (capped by 18's autovacuum_vacuum_max_threshold), inserts since
the last vacuum, rows changed since the last analyse, transaction-ID and multixact age as a share
of autovacuum_freeze_max_age, partitioned parents never analysed (autovacuum never does). Wraparound
comes first. It also lists what keeps VACUUM from freezing: old snapshots (backend_xmin), prepared
transactions, replication slots.

Run 'pgtune maintain <subcommand> -h' for its flags.
`,
	run:         runSubcommand,
	subcommands: []*command{maintainPlanCmd, maintainRunCmd, maintainScheduleCmd},
}

var (
	maintainPlanCmd     = &command{name: "maintain plan", help: maintainPlanHelp, run: runMaintainPlan}
	maintainRunCmd      = &command{name: "maintain run", help: maintainRunHelp, run: runMaintainRun}
	maintainScheduleCmd = &command{name: "maintain schedule", help: maintainScheduleHelp, run: runMaintainSchedule}
)

// planFlags are shared by plan and run.
type planFlags struct {
	history     string
	tables      string
	freezeShare float64
}

func (p *planFlags) add(fs *flagSet) {
	fs.StringVar(&p.history, "history", "", "a JSON-lines file of past runs (run appends to it): estimates from how fast each table went last time")
	fs.StringVar(&p.tables, "table", "", "only these tables, comma-separated schema.name")
	fs.Float64Var(&p.freezeShare, "freeze-share", 0.5, "freeze a table once its transaction-ID age reaches this share of autovacuum_freeze_max_age")
}

// buildPlan reads the database (read-only) and plans its maintenance.
func buildPlan(ctx context.Context, fs *flagSet, pf *planFlags) (*maintenance.Plan, *dbstate.Snapshot, error) {
	if pf.freezeShare <= 0 || pf.freezeShare > 2 {
		return nil, nil, usageErrorf("%s: --freeze-share %g: want a share such as 0.5", fs.cmd.name, pf.freezeShare)
	}
	hist := maintenance.History{}
	if pf.history != "" {
		var err error
		if hist, err = maintenance.ReadHistory(pf.history); err != nil {
			return nil, nil, usageErrorf("%s: --history: %w", fs.cmd.name, err)
		}
	}
	log, _ := fs.logger()
	conn, cfg, err := fs.connect(ctx, log)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close(context.Background())
	snap, err := collect.Collect(ctx, conn, collect.Options{Light: true, PgtuneVersion: Version(), Log: log})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: read %s: %w", fs.cmd.name, connect.Describe(cfg), err)
	}
	p := maintenance.Build(snap, maintenance.Options{FreezeShare: pf.freezeShare, History: hist, Tables: splitList(pf.tables)})
	return p, snap, nil
}

func opsString(ops []maintenance.Operation) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, "+")
}

func durationString(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// blockersTable lists what holds back the xmin horizon.
func blockersTable(bs []dbstate.Blocker) report.Table {
	var rows [][]string
	for _, b := range bs {
		rows = append(rows, []string{b.Kind, b.Name, fmt.Sprint(b.XIDAge), b.Detail})
	}
	note := "Nothing holds back the xmin horizon: VACUUM can remove and freeze up to the present."
	if len(bs) > 0 {
		note = "VACUUM cannot remove dead rows or freeze past these: end the session, resolve the prepared transaction, or drop the slot. Until then the plan's vacuums reclaim only the rows that died before the oldest of them, and its freezes stop at it."
		for _, b := range bs {
			if b.Kind == "replica_feedback" {
				note += " A replica's hot_standby_feedback holds it: a long query on that replica (end it there), not one on this server; with feedback off, replay would cancel such queries instead (pgtune advise's replication.conflicts)."
				break
			}
		}
	}
	return report.Table{Title: "What keeps VACUUM from freezing", Columns: []string{"kind", "name", "xid age", "detail"}, Rows: rows, Note: note}
}
