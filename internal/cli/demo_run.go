package cli

import (
	"context"
	"fmt"

	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/report"
)

var demoRunCmd = &command{
	name:    "demo run",
	summary: "run the booking app's query mix",
	help: `Usage: pgtune demo run [flags]

Runs the booking app's query mix (see 'pgtune demo workload') against a database loaded with
'pgtune demo load', so that pg_stat_statements fills with the app's normalised statements,
as it would in production. The mix reads and writes (it books, reschedules, cancels, pays and
sends notifications): point it at a scratch database.

With --bind-all every value is a bound parameter, as an ORM sends it: the texts' own literals
('pending', LIMIT 50) become parameters too, so pg_stat_statements shows only $n and
pg_stat_activity never shows a constant. The index engine then has no literal to learn from.

With --replica-dsn (repeat for each read replica of --dsn) the mix splits its traffic as the app
does: writes, jobs and reads of what the user just wrote (upcoming bookings, an appointment's
detail) on the primary; calendars, dashboards, searches and reports on the replicas, each client
on one replica, round robin. The replicas' pg_stat_statements then hold reads the primary never
sees: advise the cluster with 'pgtune advise --dsn PRIMARY --replica-dsn REPLICA ...'.

Examples:
  pgtune demo run --actions 20000 --clients 4
  pgtune demo run --actions 20000 --bind-all
  pgtune demo run --dsn postgres://primary/booking --replica-dsn postgres://replica1/booking
`,
	run: runDemoRun,
}

func runDemoRun(ctx context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e).withConnection().withOutput()
	actions := fs.Int("actions", 5000, "number of user actions (screen loads, jobs, writes) to run")
	clients := fs.Int("clients", 4, "concurrent connections")
	seed := fs.Uint64("seed", 1, "seed of the action sequence")
	bindAll := fs.Bool("bind-all", false, "bind every value as a parameter, literals of the texts included (as an ORM does)")
	var replicaDSNs stringList
	fs.Var(&replicaDSNs, "replica-dsn", "a read replica of --dsn: the app's replica reads go there; repeat for each replica")
	if err := fs.parse(args, false); err != nil {
		return err
	}
	replicas, err := parseReplicaDSNs(fs, replicaDSNs)
	if err != nil {
		return err
	}
	if *actions < 1 {
		return usageErrorf("demo run: --actions must be at least 1")
	}
	if *clients < 1 || *clients > 200 {
		return usageErrorf("demo run: --clients must be between 1 and 200")
	}
	log, _ := fs.logger()
	cfg, err := fs.connConfig(log)
	if err != nil {
		return err
	}
	p := newProgress(e.stderr)
	log.Debug("running the booking mix", "target", connect.Describe(cfg), "replicas", len(replicas), "actions", *actions, "clients", *clients, "bind_all", *bindAll)
	res, err := booking.Run(ctx, cfg, booking.RunOptions{Actions: *actions, Clients: *clients, Seed: *seed, BindAll: *bindAll, Replicas: replicas,
		Progress: func(done int) { p.update("%d of %d actions", done, *actions) }})
	p.done()
	if err != nil {
		return fmt.Errorf("demo run on %s: %w", connect.Describe(cfg), err)
	}
	rows := make([][]string, 0, len(res.Statements))
	var calls, onReplicas int64
	columns := []string{"statement", "calls", "errors", "mean ms", "total ms"}
	if len(replicas) > 0 {
		columns = append(columns, "on replicas")
	}
	for _, s := range res.Statements {
		row := []string{s.Name, fmt.Sprint(s.Calls), fmt.Sprint(s.Errors), fmt.Sprintf("%.3f", s.MeanMs), fmt.Sprintf("%.1f", s.TotalMs)}
		if len(replicas) > 0 {
			row = append(row, fmt.Sprint(s.ReplicaCalls))
		}
		rows = append(rows, row)
		calls += s.Calls
		onReplicas += s.ReplicaCalls
	}
	note := fmt.Sprintf("%d statements, %d errors.", calls, res.Errors)
	if len(replicas) > 0 {
		note = fmt.Sprintf("%d statements (%d on the %d replicas), %d errors.", calls, onReplicas, len(replicas), res.Errors)
	}
	if err := fs.write(res, report.Table{
		Title:   fmt.Sprintf("Booking mix: %d actions on %d connections in %.1f s", res.Actions, res.Clients, res.Duration.Seconds()),
		Columns: columns,
		Rows:    rows,
		Note:    note,
	}); err != nil {
		return err
	}
	if res.Errors > 0 {
		return fmt.Errorf("demo run: %d statements failed, e.g. %v", res.Errors, res.FirstErrors)
	}
	return nil
}
