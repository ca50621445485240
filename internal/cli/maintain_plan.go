package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/internal/report"
	"github.com/bookedbarber/pgtune/maintenance"
	"github.com/bookedbarber/pgtune/pgconf"
)

const maintainPlanHelp = `Usage: pgtune maintain plan [flags]

Reads the database (read-only; pg_monitor is enough) and lists every table that needs VACUUM,
FREEZE or ANALYZE, why (the trigger and the numbers), its size, dead rows and estimated bloat,
and how long the work should take (from its size, or from past runs with --history), ranked:
wraparound first, then dead rows, then statistics. Then what keeps VACUUM from freezing.
With --max-duration (and --jobs), it lays the night out as 'maintain run' would and says which
actions fit the window; --format html draws it as a timeline.

Examples:
  pgtune maintain plan --dsn postgres://dba@db.internal/booking
  pgtune maintain plan --format json --fail-on high      # monitoring: exit 1 on wraparound risk
  pgtune maintain plan --max-duration 3h --jobs 2 --format html > night.html
`

// maintainPlanResult is maintain plan's JSON document (docs/json.md).
type maintainPlanResult struct {
	*maintenance.Plan
	// OldestDatabase is the database with the oldest datfrozenxid on the server, and its age.
	OldestDatabase string `json:"oldest_database,omitempty"`
	OldestXIDAge   int64  `json:"oldest_xid_age,omitempty"`
	// Timeline is where 'maintain run' with the same --jobs and --max-duration would put each
	// action, by the estimates; Window is that --max-duration (0: none given).
	Timeline []maintenance.Slot `json:"timeline"`
	Window   time.Duration      `json:"window_ns,omitempty"`
}

func runMaintainPlan(ctx context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e).withConnection().withReport().withFailOn()
	var pf planFlags
	pf.add(fs)
	jobs := fs.Int("jobs", 1, "lay the night out for 'maintain run --jobs N': tables worked on at once")
	window := fs.Duration("max-duration", 0, "lay the night out for 'maintain run --max-duration D': which actions fit the window")
	if err := fs.parse(args, false); err != nil {
		return err
	}
	if *jobs < 1 || *jobs > 64 {
		return usageErrorf("maintain plan: --jobs %d: want 1 to 64, as maintain run takes", *jobs)
	}
	plan, snap, err := buildPlan(ctx, fs, &pf)
	if err != nil {
		return err
	}
	res := maintainPlanResult{Plan: plan, Timeline: maintenance.Timeline(plan, *jobs, *window), Window: *window}
	if a := snap.Activity; a != nil {
		res.OldestDatabase, res.OldestXIDAge = a.OldestXIDDatabase, a.OldestXIDAge
	}
	if err := fs.write(res, planTables(&res)...); err != nil {
		return err
	}
	for _, a := range plan.Actions {
		if a.NotPermitted != "" {
			// A nightly job with this plan would skip the table and stay green: say it now.
			return &exitError{code: ExitFindings, err: fmt.Errorf("maintain plan: %s", a.NotPermitted)}
		}
	}
	var sevs []finding.Finding
	for _, a := range plan.Actions {
		sevs = append(sevs, finding.Finding{Severity: a.Severity})
	}
	if fs.failOnThreshold().Trips(sevs) {
		return errFindings
	}
	return nil
}

func planTables(res *maintainPlanResult) []report.Table {
	plan := res.Plan
	var rows [][]string
	for i, a := range plan.Actions {
		var why []string
		if a.NotPermitted != "" {
			why = append(why, "NOT PERMITTED: "+a.NotPermitted)
		}
		for _, r := range a.Reasons {
			why = append(why, r.Text)
		}
		rows = append(rows, []string{fmt.Sprint(i + 1), a.Table, opsString(a.Ops), a.Severity.String(), strings.Join(why, "; "),
			pgconf.HumanBytes(a.Bytes), fmt.Sprintf("%d (%.0f %%)", a.DeadTuples, a.EstimatedBloat*100), durationString(a.Estimate)})
	}
	note := fmt.Sprintf("%d table(s), about %s of work (estimates from %s).", len(plan.Actions), durationString(plan.Total), estimateBases(plan))
	if len(plan.Actions) == 0 {
		note = "Nothing to do: every table is within autovacuum's triggers."
	}
	if res.OldestDatabase != "" && plan.FreezeMaxAge > 0 {
		note += fmt.Sprintf(" Oldest database on the server: %s, transaction ID age %d (%.0f %% of autovacuum_freeze_max_age).",
			res.OldestDatabase, res.OldestXIDAge, float64(res.OldestXIDAge)/float64(plan.FreezeMaxAge)*100)
	}
	if res.Window > 0 {
		fit := 0
		for _, s := range res.Timeline {
			if s.Fits {
				fit++
			}
		}
		note += fmt.Sprintf(" In a %s window: %d of %d action(s) fit.", durationString(res.Window), fit, len(res.Timeline))
	}
	return []report.Table{
		{Title: "Maintenance plan for " + plan.Database, Columns: []string{"#", "table", "action", "severity", "why", "size", "dead rows (bloat)", "estimate"}, Rows: rows, Note: note,
			Figure: planFigure(plan, res.Timeline, res.Window)},
		blockersTable(plan.Blockers),
	}
}

func estimateBases(plan *maintenance.Plan) string {
	seen := map[string]bool{}
	var out []string
	for _, a := range plan.Actions {
		if !seen[a.EstimateBasis] {
			seen[a.EstimateBasis] = true
			out = append(out, a.EstimateBasis)
		}
	}
	if len(out) == 0 {
		return "size"
	}
	return strings.Join(out, ", ")
}
