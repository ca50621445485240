package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/internal/report"
	"github.com/bookedbarber/pgtune/migrations"
	"github.com/bookedbarber/pgtune/pgconf"
)

var migrateCmd = &command{
	name:    "migrate",
	summary: "apply, roll back or show golang-migrate index migrations on a live database, safely",
	help: `Usage: pgtune migrate <up|down|status> --dir DIR [flags]

Applies a golang-migrate directory (such as the one 'pgtune indexes generate' writes) the way
index migrations need on a live database:

  - one runner at a time: pgtune takes an advisory lock of its own by polling, so a second
    runner waits (--wait) holding no snapshot instead of deadlocking with the first one's
    CREATE INDEX CONCURRENTLY (golang-migrate's own blocking lock does: its issue #960);
  - before each build, an INVALID leftover of the same index (from a failed or cancelled
    build, which CREATE INDEX ... IF NOT EXISTS would silently skip) is dropped concurrently;
  - every statement waits at most --lock-timeout for a lock on its table, and has no statement
    timeout: a build takes as long as it takes, but never queues the application behind a lock;
  - CREATE INDEX CONCURRENTLY must also wait for every older transaction to end (a nightly
    pg_dump, a long report): that wait blocks nobody, so it is not cut by --lock-timeout but by
    --max-wait (default 1h), and who the build waits for (pid, application, age, query) is
    logged every 30 s;
  - an index on a partitioned table is built in the steps 'pgtune indexes generate' writes
    (ON ONLY the parent, each partition CONCURRENTLY, then ATTACH PARTITION); each step can
    run again, so a run killed at any point resumes;
  - a build a killed run left running (its backend goes on) is named with its pid, and the
    run waits for it (--wait) or stops, instead of fighting it for the lock;
  - if a pgtune migration fails, the index it left is dropped and its version forced back, so
    the database is as before; the message says whether running again can help (a lock, a wait)
    or what to change first (an error that recurs). A dirty pgtune migration found at the
    start (a run that was killed) is recovered the same way. Other migrations are left to you;
  - the read replicas the primary streams to get an index only when they replay it: up reports
    how far each has replayed the last migration (pg_stat_replication; the role needs
    pg_read_all_stats to see it). With --wait-replicas D it waits, at most D, for every replica
    to replay each migration before the next one (so a later drop never leaves a replica's reads
    with neither index), and first for them to catch up with the primary: a replica too far
    behind is named before anything is applied. A replica that is down (its slot inactive) is
    named and not waited for.

It writes to the database: up and down change its indexes.

  pgtune migrate up     --dir DIR    apply every pending migration
  pgtune migrate down   --dir DIR    roll back the last one (--steps N, or --all)
  pgtune migrate status --dir DIR    the applied version, pending migrations, invalid indexes (read-only)
  pgtune migrate lint FILE|DIR...    check migrations for pull requests (see 'pgtune migrate lint -h')

Examples:
  pgtune migrate up --dsn postgres://dba@db.internal/booking --dir migrations/booking
  pgtune migrate up --dir migrations --wait 10m --lock-timeout 3s
  pgtune migrate up --dir migrations --wait-replicas 5m
`,
	run:         runSubcommand,
	subcommands: []*command{migrateUpCmd, migrateDownCmd, migrateStatusCmd, migrateLintCmd},
}

type migrateResult struct {
	Action string             `json:"action"`
	Dir    string             `json:"dir"`
	Result *migrations.Result `json:"result,omitempty"`
	Status *migrations.Status `json:"status,omitempty"`
}

var (
	migrateUpCmd     = &command{name: "migrate up", run: runMigrate}
	migrateDownCmd   = &command{name: "migrate down", run: runMigrate}
	migrateStatusCmd = &command{name: "migrate status", run: runMigrate}
	migrateLintCmd   = &command{name: "migrate lint", summary: "check index migrations", help: migrateLintHelp, run: runMigrateLint}
)

// runMigrate runs up, down and status, which share their flags and the group's help.
func runMigrate(ctx context.Context, sub *command, e *env, args []string) error {
	cmd, action := sub.parent, strings.TrimPrefix(sub.name, "migrate ")
	fs := newFlagSet(cmd, e).withConnection().withOutput()
	dir := fs.String("dir", "", "migration directory (required)")
	lockTimeout := fs.Duration("lock-timeout", 5*time.Second, "how long a statement may wait for a lock on its table: one that cannot get it in time fails instead of queueing the application")
	maxWait := fs.Duration("max-wait", time.Hour, "how long a CREATE INDEX CONCURRENTLY may wait for older transactions (a pg_dump, a report) to end (0: no limit); who it waits for is logged meanwhile")
	wait := fs.Duration("wait", 0, "how long to wait for another 'pgtune migrate' on the same database to finish")
	waitReplicas := fs.Duration("wait-replicas", 0, "up: wait, at most this long, for every streaming replica to replay each migration before the next (0: only report how far they have replayed)")
	steps := fs.Int("steps", 1, "down: how many migrations to roll back")
	all := fs.Bool("all", false, "down: roll back every migration")
	if err := fs.parse(args, false); err != nil {
		return err
	}
	if *dir == "" {
		return usageErrorf("migrate %s: --dir DIR is required", action)
	}
	if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
		return usageErrorf("migrate %s: --dir %s is not a directory", action, *dir)
	}
	if *waitReplicas > 0 && action != "up" {
		return usageErrorf("migrate %s: --wait-replicas is for 'migrate up' only", action)
	}
	if *steps < 1 {
		return usageErrorf("migrate down: --steps must be at least 1")
	}
	if _, err := migrations.Read(*dir); err != nil {
		if migrations.IsDirError(err) {
			return usageErrorf("migrate %s: %w", action, err)
		}
		return fmt.Errorf("migrate %s: %w", action, err)
	}
	log, _ := fs.logger()
	cfg, err := fs.connConfig(log)
	if err != nil {
		return err
	}
	out := migrateResult{Action: action, Dir: *dir}
	if action == "status" {
		conn, err := connect.Connect(ctx, cfg)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		st, err := migrations.GetStatus(ctx, conn, *dir)
		if err != nil {
			return fmt.Errorf("migrate status %s: %w", connect.Describe(cfg), err)
		}
		out.Status = st
		var rows [][]string
		for _, m := range st.Pending {
			rows = append(rows, []string{fmt.Sprintf("%06d", m.Version), m.Name, yesNo(m.Generated)})
		}
		note := fmt.Sprintf("Applied version: %s; %d pending.", versionText(st.Version, st.Dirty), len(st.Pending))
		if len(st.Invalid) > 0 {
			note += " INVALID indexes the next 'pgtune migrate up' drops and rebuilds: " + strings.Join(st.Invalid, ", ")
		}
		if len(st.Incomplete) > 0 {
			note += " Indexes of partitioned tables not valid until their pending steps attach every partition's index: " + strings.Join(st.Incomplete, ", ")
		}
		return fs.write(out, report.Table{Title: "Migrations in " + *dir + " against " + connect.Describe(cfg),
			Columns: []string{"version", "pending migration", "by pgtune"}, Rows: rows, Note: note})
	}

	if *maxWait == 0 {
		*maxWait = 100 * 365 * 24 * time.Hour // no limit
	}
	p := newProgress(e.stderr)
	o := migrations.Options{Dir: *dir, LockTimeout: *lockTimeout, MaxWait: *maxWait, Wait: *wait, WaitReplicas: *waitReplicas, Log: log, Progress: func(s string) { p.update("%s", s) }}
	var res *migrations.Result
	if action == "up" {
		res, err = migrations.Up(ctx, cfg, o)
	} else {
		n := *steps
		if *all {
			n = 0
		}
		res, err = migrations.Down(ctx, cfg, o, n)
	}
	p.done()
	if err != nil {
		if res != nil && len(res.Applied) > 0 {
			log.Info("applied before the error", "migrations", strings.Join(res.Applied, ", "))
		}
		return fmt.Errorf("migrate %s %s: %w", action, connect.Describe(cfg), err)
	}
	out.Result = res
	var rows [][]string
	for _, a := range res.Recovered {
		rows = append(rows, []string{"recovered", a})
	}
	for _, d := range res.Dropped {
		rows = append(rows, []string{"dropped invalid leftover", d})
	}
	for _, a := range res.Applied {
		rows = append(rows, []string{action, a})
	}
	for _, rp := range res.Replicas {
		rows = append(rows, []string{"replica " + rp.Replica, replayText(rp)})
	}
	for _, slot := range res.IdleSlots {
		rows = append(rows, []string{"replica on slot " + slot, "not streaming (slot inactive): it replays the indexes when it reconnects; not waited for"})
	}
	note := fmt.Sprintf("Version %s -> %s.", versionText(res.From, false), versionText(res.To, false))
	if len(res.Applied) == 0 {
		note = "Nothing to do: " + note
	}
	if res.HiddenReplicas > 0 {
		note += fmt.Sprintf(" The primary streams to %d replicas whose replay this role cannot see: GRANT pg_read_all_stats TO %s.", res.HiddenReplicas, cfg.User)
	}
	for _, rp := range res.Replicas {
		if !rp.Replayed && *waitReplicas == 0 {
			note += " Not every replica has replayed the last migration yet: until it does, its reads go without the index (--wait-replicas 5m waits for them)."
			break
		}
	}
	return fs.write(out, report.Table{Title: fmt.Sprintf("migrate %s: %s", action, connect.Describe(cfg)),
		Columns: []string{"what", "migration"}, Rows: rows, Note: note})
}

// replayText says how far a replica has replayed a run's last migration.
func replayText(rp migrations.Replay) string {
	if rp.Replayed {
		if rp.WaitedSeconds > 0 {
			return fmt.Sprintf("replayed %s (waited %.1f s)", rp.Migration, rp.WaitedSeconds)
		}
		return "replayed " + rp.Migration
	}
	s := fmt.Sprintf("has not replayed %s yet: %s of WAL behind", rp.Migration, pgconf.HumanBytes(rp.BehindBytes))
	if rp.ReplayLagSeconds != nil {
		s += fmt.Sprintf(", replay lag %.1f s", *rp.ReplayLagSeconds)
	}
	return s
}

func versionText(v int, dirty bool) string {
	s := "none"
	if v >= 0 {
		s = fmt.Sprintf("%06d", v)
	}
	if dirty {
		s += " (dirty)"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
