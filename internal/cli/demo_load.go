package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/report"
)

var demoLoadCmd = &command{
	name:    "demo load",
	summary: "create the booking schema and load generated data",
	help: `Usage: pgtune demo load [flags]

Creates the booking demo's untuned schema in the target database and fills it with
deterministic generated data: the same --scale, --seed and --reference always give the same
rows. Scale 1 is about 100,000 appointments, 20,000 clients and 550,000 rows in all; data
spans 365 days before the reference day and 42 days after it.

--partition-notifications makes notifications a partitioned table (hash on id, partitions
notifications_p0 to _p3; the same rows and statements), the shape on which index migrations
take the per-partition path.

It writes to the database: point it at a scratch database. It refuses to touch existing
booking tables unless --replace is given, and then drops only those.

Examples:
  createdb booking && pgtune demo load --dsn postgres:///booking
  pgtune demo load --scale 10 --replace
  pgtune demo load --partition-notifications --replace
`,
	run: runDemoLoad,
}

func runDemoLoad(ctx context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e).withConnection().withOutput()
	scale := fs.Float64("scale", 1, "scale factor: 1 ≈ 100,000 appointments; fractions make small databases")
	seed := fs.Uint64("seed", 1, "seed of the generated data")
	ref := fs.String("reference", "", "the data's 'today' as YYYY-MM-DD (default: today, so the app's upcoming screens find rows)")
	replace := fs.Bool("replace", false, "drop existing booking tables first")
	partitioned := fs.Bool("partition-notifications", false, fmt.Sprintf("make notifications a partitioned table (hash on id, %d partitions)", booking.NotificationPartitions))
	if err := fs.parse(args, false); err != nil {
		return err
	}
	opts := booking.LoadOptions{Options: booking.Options{Scale: *scale, Seed: *seed}, Replace: *replace, PartitionNotifications: *partitioned}
	if *ref != "" {
		t, err := time.Parse("2006-01-02", *ref)
		if err != nil {
			return usageErrorf("demo load: --reference %q is not a date like 2026-06-15", *ref)
		}
		opts.Reference = t
	}
	if _, err := booking.NewPlan(opts.Options); err != nil {
		return usageErrorf("demo load: --scale: %w", err)
	}
	log, _ := fs.logger()
	conn, cfg, err := fs.connect(ctx, log)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())

	p := newProgress(e.stderr)
	opts.Progress = func(table string, rows int64, done bool) {
		if done {
			log.Debug("loaded", "table", table, "rows", rows)
		}
		p.update("loading %s: %d rows", table, rows)
	}
	log.Debug("loading the booking demo", "target", connect.Describe(cfg), "scale", *scale, "seed", *seed)
	res, err := booking.Load(ctx, conn, opts)
	p.done()
	if err != nil {
		return fmt.Errorf("demo load into %s: %w", connect.Describe(cfg), err)
	}
	rows := make([][]string, 0, len(res.Tables))
	for _, t := range res.Tables {
		rows = append(rows, []string{t.Table, fmt.Sprint(t.Rows), fmt.Sprintf("%.2f", t.Duration.Seconds())})
	}
	return fs.write(res, report.Table{
		Title:   fmt.Sprintf("Booking demo loaded into %s (scale %g, seed %d, reference %s)", connect.Describe(cfg), res.Scale, res.Seed, res.Reference.Format("2006-01-02")),
		Columns: []string{"table", "rows", "copy seconds"},
		Rows:    rows,
		Note:    fmt.Sprintf("%d rows in %.1f s, including constraints, indexes and VACUUM ANALYZE.", res.Rows, res.Duration.Seconds()),
	})
}
