package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/report"
	"github.com/bookedbarber/pgtune/maintenance"
)

const maintainRunHelp = `Usage: pgtune maintain run [--until HH:MM | --max-duration D] [flags]

Plans (as 'pgtune maintain plan') and then does the work, most urgent first. It writes to the
database: VACUUM, VACUUM (FREEZE) and ANALYZE. It is made to be what a nightly cron job calls:

  - a window: --until 05:00 (local time; tomorrow if already past) or --max-duration 3h. No
    action starts unless its estimate fits what is left (estimates learn from --history), and
    every statement's statement_timeout ends at the window's end;
  - never blocking the application: every statement runs with lock_timeout (--lock-timeout) and
    SKIP_LOCKED, so a table someone holds a lock on is skipped and reported, not waited for;
  - per-version options: SKIP_LOCKED, INDEX_CLEANUP (--index-cleanup; off for tables already past
    autovacuum_freeze_max_age, to finish the freeze first), PROCESS_TOAST (14+), PARALLEL n (13+, --parallel, tables
    with two or more indexes), BUFFER_USAGE_LIMIT (16+, --buffer-usage-limit), TRUNCATE false
    unless --truncate (truncation takes an ACCESS EXCLUSIVE lock and is replayed on standbys),
    ANALYZE ONLY for partitioned parents (18); throttling with --cost-delay/--cost-limit;
  - --jobs N tables at once; --dry-run prints the statements and the window's decisions;
  - one run at a time per database (an advisory lock): a second run exits with status 4;
  - SIGINT or SIGTERM cancels the running statements on the server and prints the summary;
  - a log record per action on stderr (--log-format json for JSON lines: table, action,
    status, duration, pages scanned, dead tuples removed, skipped reason) and a summary on
    stdout; exit 1 when an action failed, 3 when the run could not run or was interrupted.

Examples:
  pgtune maintain run --dsn postgres://maint@db.internal/booking --until 05:00 --history /var/lib/pgtune/maintain.jsonl
  pgtune maintain run --max-duration 2h --jobs 2 --log-format json
  pgtune maintain run --dry-run --until 05:00
`

// ExitBusy is maintain run's status when another run holds the database's maintenance lock.
const ExitBusy = 4

func runMaintainRun(ctx context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e).withConnection().withOutput()
	var pf planFlags
	pf.add(fs)
	until := fs.String("until", "", "end of the window, HH:MM local time (tomorrow if already past)")
	maxDuration := fs.Duration("max-duration", 0, "length of the window (e.g. 3h)")
	lockTimeout := fs.Duration("lock-timeout", 5*time.Second, "lock_timeout of every statement")
	jobs := fs.Int("jobs", 1, "tables worked on at once (each is one connection)")
	dryRun := fs.Bool("dry-run", false, "print what would run, run nothing")
	costDelay := fs.Duration("cost-delay", 0, "vacuum_cost_delay for the run's sessions (e.g. 2ms; 0: unthrottled, PostgreSQL's default for manual VACUUM)")
	costLimit := fs.Int("cost-limit", 0, "vacuum_cost_limit for the run's sessions (0: as set)")
	bufferLimit := fs.String("buffer-usage-limit", "", "BUFFER_USAGE_LIMIT of each VACUUM and ANALYZE (16+), e.g. 256MB")
	parallel := fs.Int("parallel", 0, "PARALLEL workers for the index phase of tables with two or more indexes (13+)")
	truncate := fs.Bool("truncate", false, "let VACUUM truncate empty end pages (ACCESS EXCLUSIVE, replayed on standbys)")
	indexCleanup := fs.String("index-cleanup", "", "VACUUM's INDEX_CLEANUP: auto (14+), on or off (default: PostgreSQL's; tables past autovacuum_freeze_max_age are frozen with off)")
	if err := fs.parse(args, false); err != nil {
		return err
	}
	if *until != "" && *maxDuration != 0 {
		return usageErrorf("maintain run: give --until or --max-duration, not both")
	}
	// Each constraint names its own flag: the one that failed, not a list of all of them.
	switch {
	case *jobs < 1 || *jobs > 64:
		return usageErrorf("maintain run: --jobs %d: want 1 to 64 VACUUM sessions at once", *jobs)
	case *lockTimeout <= 0:
		return usageErrorf("maintain run: --lock-timeout %v: want a positive duration, e.g. --lock-timeout 5s", *lockTimeout)
	case *parallel < 0:
		return usageErrorf("maintain run: --parallel %d: want 0 (no parallel index vacuum) or more", *parallel)
	case *costLimit < 0:
		return usageErrorf("maintain run: --cost-limit %d: PostgreSQL's vacuum_cost_limit is 1 to 10000", *costLimit)
	}
	// PostgreSQL's own ranges, checked before connecting: a session that refuses a SET would
	// otherwise fail every table of the night.
	switch {
	case *costDelay > 100*time.Millisecond:
		return usageErrorf("maintain run: --cost-delay %v: PostgreSQL's vacuum_cost_delay is 0 to 100ms", *costDelay)
	case *costLimit > 10000:
		return usageErrorf("maintain run: --cost-limit %d: PostgreSQL's vacuum_cost_limit is 1 to 10000", *costLimit)
	case *parallel > 1024:
		return usageErrorf("maintain run: --parallel %d: VACUUM's PARALLEL is 0 to 1024", *parallel)
	case *lockTimeout > time.Duration(math.MaxInt32)*time.Millisecond:
		return usageErrorf("maintain run: --lock-timeout %v: PostgreSQL's lock_timeout is at most %v", *lockTimeout, time.Duration(math.MaxInt32)*time.Millisecond)
	}
	if !slices.Contains([]string{"", "auto", "on", "off"}, *indexCleanup) {
		return usageErrorf("maintain run: --index-cleanup %q: want auto, on or off", *indexCleanup)
	}
	if *bufferLimit != "" && !bufferLimitRe(*bufferLimit) {
		return usageErrorf("maintain run: --buffer-usage-limit %q: want a size such as 256MB or 0", *bufferLimit)
	}
	var deadline time.Time
	switch {
	case *until != "":
		t, err := time.ParseInLocation("15:04", *until, time.Local)
		if err != nil {
			return usageErrorf("maintain run: --until %q: want HH:MM, e.g. --until 05:00", *until)
		}
		now := time.Now()
		deadline = time.Date(now.Year(), now.Month(), now.Day(), t.Hour(), t.Minute(), 0, 0, time.Local)
		if !deadline.After(now) {
			deadline = deadline.AddDate(0, 0, 1)
		}
	case *maxDuration > 0:
		deadline = time.Now().Add(*maxDuration)
	}
	plan, _, err := buildPlan(ctx, fs, &pf)
	if err != nil {
		return err
	}
	log, _ := fs.logger()
	cfg, err := fs.connConfig(log)
	if err != nil {
		return err
	}
	p := newProgress(e.stderr)
	sum, err := maintenance.Run(ctx, cfg, plan, maintenance.RunOptions{
		Deadline: deadline, LockTimeout: *lockTimeout, Jobs: *jobs, DryRun: *dryRun,
		CostDelay: *costDelay, CostLimit: *costLimit, BufferUsageLimit: *bufferLimit, Parallel: *parallel, Truncate: *truncate, IndexCleanup: *indexCleanup,
		Log: log,
		Progress: func(running []maintenance.Progress) {
			var parts []string
			for _, r := range running {
				pct := 0.0
				if r.Total > 0 {
					pct = float64(r.Scanned) / float64(r.Total) * 100
				}
				parts = append(parts, fmt.Sprintf("%s %s %.0f%%", r.Table, r.Phase, pct))
			}
			p.update("%s", strings.Join(parts, " | "))
		},
	})
	p.done()
	switch {
	case errors.Is(err, maintenance.ErrBusy):
		return &exitError{code: ExitBusy, err: fmt.Errorf("maintain run: %w; it exits when its window ends (or stop it); this run did nothing", err)}
	case errors.Is(err, maintenance.ErrStandby):
		return fmt.Errorf("maintain run: %w", err)
	case err != nil && sum == nil:
		var ce *connect.Error
		if errors.As(err, &ce) {
			return err
		}
		return fmt.Errorf("maintain run: %w", err)
	}
	if pf.history != "" && !*dryRun {
		if herr := maintenance.AppendHistory(pf.history, sum); herr != nil {
			log.Warn("could not append to the history file", "file", pf.history, "error", herr)
		}
	}
	if werr := fs.write(sum, runTables(plan, sum, deadline, *dryRun)...); werr != nil {
		return werr
	}
	switch {
	case sum.Interrupted:
		return fmt.Errorf("maintain run: interrupted: %d done, %d skipped, %d failed, %d not started", sum.Done, sum.Skipped, sum.Failed, sum.NotStarted)
	case sum.Failed > 0 || sum.NotPermitted > 0:
		msg := fmt.Sprintf("maintain run: %d of %d actions failed", sum.Failed, len(sum.Results))
		if sum.NotPermitted > 0 {
			msg += fmt.Sprintf(", %d not permitted (the role does not own the table: %s)", sum.NotPermitted, firstNotPermitted(sum))
		}
		return &exitError{code: ExitFindings, err: errors.New(msg + " (see the summary)")}
	case err != nil:
		return fmt.Errorf("maintain run: %w", err)
	}
	return nil
}

// firstNotPermitted is the first not-permitted action's reason, which names the grant.
func firstNotPermitted(sum *maintenance.Summary) string {
	for _, r := range sum.Results {
		if r.Status == maintenance.StatusNotPermitted {
			return r.Reason
		}
	}
	return ""
}

func bufferLimitRe(s string) bool {
	if s == "0" {
		return true
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	switch s[i:] {
	case "kB", "MB", "GB":
		return i > 0
	}
	return false
}

func runTables(plan *maintenance.Plan, sum *maintenance.Summary, deadline time.Time, dry bool) []report.Table {
	var rows [][]string
	for _, r := range sum.Results {
		detail := r.Reason
		if r.Status == maintenance.StatusDone {
			detail = fmt.Sprintf("%d pages scanned, %d dead rows removed", r.PagesScanned, r.TuplesRemoved)
		}
		took := durationString(r.Duration)
		if r.Duration == 0 {
			took = ""
		}
		rows = append(rows, []string{r.Table, opsString(r.Ops), string(r.Status), took, durationString(r.Estimate), detail})
	}
	title := "Maintenance run on " + plan.Database
	if dry {
		title = "Dry run on " + plan.Database + " (nothing was executed)"
	}
	note := fmt.Sprintf("%d done, %d skipped, %d failed, %d not permitted, %d not started, in %s.", sum.Done, sum.Skipped, sum.Failed, sum.NotPermitted, sum.NotStarted, durationString(sum.Elapsed))
	if !deadline.IsZero() {
		note += " Window ends " + deadline.Format("2006-01-02 15:04 MST") + "."
	}
	tables := []report.Table{{Title: title, Columns: []string{"table", "action", "status", "took", "estimate", "detail"}, Rows: rows, Note: note}}
	if dry {
		var sql []string
		for _, r := range sum.Results {
			if r.Status == maintenance.StatusDryRun {
				sql = append(sql, r.SQL+";")
			}
		}
		tables[0].Code = strings.Join(sql, "\n")
	}
	return tables
}
