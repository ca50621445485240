package cli

import (
	"context"
	"fmt"

	"github.com/bookedbarber/pgtune/advisor/prereq"
	"github.com/bookedbarber/pgtune/finding"
	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/report"
)

var checkCmd = &command{
	name:    "check",
	summary: "check that a database is ready for pgtune (read-only)",
	help: `Usage: pgtune check [flags]

Checks what pgtune's advisor needs from a database, and prints the exact fix for each gap:
a supported server (13+), pg_stat_statements preloaded, created and tracking, the privilege
to read every role's statements (pg_read_all_stats), no evictions, track_io_timing, and
HypoPG for what-if index proofs. It only reads; it changes nothing.

Examples:
  pgtune check --dsn postgres://dba@db.internal/booking
  pgtune check --format json --fail-on high     # in CI: exit 1 when something important is missing
`,
	run: runCheck,
}

// checkResult is check's JSON document (docs/json.md).
type checkResult struct {
	Server   *prereq.State     `json:"server"`
	Checks   []prereq.Check    `json:"checks"`
	Findings []finding.Finding `json:"findings"`
}

func runCheck(ctx context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e).withConnection().withOutput().withFailOn()
	if err := fs.parse(args, false); err != nil {
		return err
	}
	log, _ := fs.logger()
	conn, cfg, err := fs.connect(ctx, log)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())

	state, err := prereq.Collect(ctx, conn)
	if err != nil {
		return fmt.Errorf("check %s: %w", connect.Describe(cfg), err)
	}
	checks := prereq.Evaluate(state)
	findings := prereq.Findings(checks)
	if findings == nil {
		findings = []finding.Finding{}
	}
	log.Debug("checked", "target", connect.Describe(cfg), "checks", len(checks), "findings", len(findings))

	rows := make([][]string, 0, len(checks))
	for _, c := range checks {
		status, fix := "ok", ""
		if c.Finding != nil {
			status, fix = c.Finding.Severity.String(), c.Finding.Fix()
		}
		rows = append(rows, []string{c.Name, status, c.Observed, fix})
	}
	note := "Ready: nothing to fix."
	if len(findings) > 0 {
		note = fmt.Sprintf("%d of %d checks need attention.", len(findings), len(checks))
	}
	err = fs.write(checkResult{Server: state, Checks: checks, Findings: findings}, report.Table{
		Title:   fmt.Sprintf("PostgreSQL %s, database %s, user %s", state.ServerVersion, state.Database, state.User),
		Columns: []string{"check", "status", "observed", "fix"},
		Rows:    rows,
		Note:    note,
	})
	if err != nil {
		return err
	}
	if fs.failOnThreshold().Trips(findings) {
		return errFindings
	}
	return nil
}
