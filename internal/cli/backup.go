package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/internal/report"
	"github.com/bookedbarber/pgtune/internal/s3"
	"github.com/bookedbarber/pgtune/maintenance/pitr"
)

var backupCmd = &command{
	name:    "backup",
	summary: "prove a backup restores to a point in time (a restore drill), and write its sentinels",
	help: `Usage: pgtune backup <verify|sentinel> [flags]

  pgtune backup verify     restore a base backup and its WAL archive to a point in time in a
                           scratch directory, and prove the data is there
  pgtune backup sentinel   write a heartbeat row, so every drill has a known target

Run 'pgtune backup <subcommand> -h' for its flags.
`,
	run:         runSubcommand,
	subcommands: []*command{backupVerifyCmd, backupSentinelCmd},
}

var (
	backupVerifyCmd   = &command{name: "backup verify", help: backupVerifyHelp, run: runBackupVerify}
	backupSentinelCmd = &command{name: "backup sentinel", help: backupSentinelHelp, run: runBackupSentinel}
)

const backupVerifyHelp = `Usage: pgtune backup verify --base-backup DIR [--incremental DIR ...] --wal-archive DIR [--target-time T | --target latest] [flags]
       pgtune backup verify --pgbackrest STANZA [--pgbackrest-config FILE] [--target-time T | --target latest] [flags]
       pgtune backup verify --barman-cloud s3://BUCKET[/PREFIX] --server-name NAME [--endpoint-url URL] [--target-time T | --target latest] [flags]

A restore drill: it restores the backup into a scratch directory, recovers it to the target and
proves the data is there — what pgBackRest's verify, pg_verifybackup and Barman's checks cannot.
Each step is reported with its duration:

  pre-flight  the backup (plain or tar pg_basebackup output) has its backup_manifest; it is
              younger than --max-age; the target is after the backup ended (its STOP TIME in
              the backup history file the archive holds, never a file's time); the archive
              holds every WAL segment from the backup's start on the timeline path (history
              files read), each segment's header naming this cluster, its timeline and
              position, and every page header of every archived segment (older ones too)
              intact: magic, address, timeline (a damaged page is named by segment and offset,
              even when this target does not read it); the scratch server's OS user can read
              every archived file (run as root, it is the archive's owner unless --os-user)
  restore     the backup copied or extracted into a scratch directory and checked against its
              manifest with pg_verifybackup (parsing the WAL it needs from the archive); the
              scratch server gets its own port, a socket in the scratch directory and no TCP
              address, archiving off, no preloaded libraries (pg_cron), no logical replication
              workers, settings on its command line so the backup's own configuration cannot
              point it at production
  recover     recovery_target_time with restore_command reading the archive, then promote;
              the server log must show recovery stopped before the first commit after the target
              ("recovery ended before configured recovery target was reached" is a failure); the
              last replayed commit gives the data-loss window
  assert      the sentinel (pgtune backup sentinel): the row just before the target is there and
              none after it (with --sentinel-dsn, the live database's exact rows); each --check
              query returns true; with --amcheck, pg_amcheck over every database

With --incremental (PostgreSQL 17+, repeatable, oldest first), --base-backup is the full backup of a
chain of incremental backups (pg_basebackup --incremental): pre-flight checks each increment was taken
against the backup before it in the chain, from the same cluster, with its manifest (a missing or
misplaced increment is named), and the newest increment's start and end stand for the backup's;
restore combines the chain with pg_combinebackup and checks the result with pg_verifybackup.

With --pgbackrest, pgBackRest is the source: pre-flight reads 'pgbackrest info' (the newest backup
that ended before the target, its age, the archive's range) and runs 'pgbackrest verify'; pgBackRest
restores the set into the scratch directory (checking every file) with its archive-get as
restore_command; recover and assert are the same.

With --barman-cloud, the source is an object store Barman's cloud tools fill (archive_command =
barman-cloud-wal-archive, base backups by barman-cloud-backup): pre-flight lists the store itself —
the newest complete backup (its backup.info) that ended before the target, its age, every WAL
object from its start along the timelines, each segment's header, and how far behind the newest
archived WAL is — then barman-cloud-restore restores it and barman-cloud-wal-restore is the
restore_command. Credentials come from the environment only, for pgtune and the tools alike:
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN), AWS_REGION, AWS_ENDPOINT_URL or
--endpoint-url, and AWS_CA_BUNDLE for a store with a private CA.

The scratch directory and server are always removed: after a success, a failure or SIGTERM.
Exit 0 only when every step passed; 1 when one failed (the report says which and why).

Examples:
  pgtune backup verify --base-backup /backups/base/latest --wal-archive /backups/wal --target-time '2026-11-27 03:00:00+00'
  pgtune backup verify --base-backup /backups/base/latest --wal-archive /backups/wal --target latest --max-age 26h \
      --check "SELECT count(*) > 0 FROM payments" --amcheck --format json
`

// backupVerifyResult is backup verify's JSON document (docs/json.md).
type backupVerifyResult struct {
	*pitr.Report
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, "; ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runBackupVerify(ctx context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e).withReport()
	base := fs.String("base-backup", "", "a pg_basebackup output directory (plain or tar, with its backup_manifest)")
	archive := fs.String("wal-archive", "", "the WAL archive directory (what archive_command copies to)")
	targetTime := fs.String("target-time", "", "recover to this time, e.g. '2026-11-27 03:00:00+00' (RFC 3339 also accepted)")
	target := fs.String("target", "", "latest: recover to the end of the archive")
	maxAge := fs.Duration("max-age", 0, "fail when the backup is older than this (the recovery-point objective), e.g. 26h")
	var increments stringList
	fs.Var(&increments, "incremental", "an incremental backup on top of --base-backup (17+; repeatable, oldest first)")
	var checks stringList
	fs.Var(&checks, "check", "a query returning one boolean, run after promotion (repeatable), e.g. \"SELECT count(*) > 0 FROM payments\"")
	amcheck := fs.Bool("amcheck", false, "run pg_amcheck (heapallindexed) over every database of the restored server")
	user := fs.String("db-user", "postgres", "the backup's superuser, for the checks")
	database := fs.String("db-name", "postgres", "the database the checks and the sentinel are in")
	sentinelDSN := fs.String("sentinel-dsn", "", "the live database the sentinel rows are written to: the drill then knows exactly which row must be present")
	pgBin := fs.String("pg-bin", "", "the server binaries' directory (default: found for the backup's major)")
	osUser := fs.String("os-user", "", "run as root: the OS user the scratch server and its restore_command run as (default: the WAL archive's owner, else postgres)")
	stanza := fs.String("pgbackrest", "", "restore from this pgBackRest stanza instead of --base-backup and --wal-archive")
	backrestConf := fs.String("pgbackrest-config", "", "pgbackrest.conf (default: pgBackRest's own)")
	barmanURL := fs.String("barman-cloud", "", "restore from what Barman's cloud tools keep at this s3://BUCKET[/PREFIX] (with --server-name)")
	serverName := fs.String("server-name", "", "with --barman-cloud: the server name barman-cloud-backup and barman-cloud-wal-archive were given")
	endpoint := fs.String("endpoint-url", os.Getenv("AWS_ENDPOINT_URL"), "with --barman-cloud: the S3 endpoint (default $AWS_ENDPOINT_URL, else AWS's)")
	scratch := fs.String("scratch-dir", "", "where the scratch directory is made (default: the system's temporary directory)")
	timeout := fs.Duration("timeout", time.Hour, "how long recovery may take")
	if err := fs.parse(args, false); err != nil {
		return err
	}
	switch {
	case *barmanURL != "" && (*base != "" || *archive != "" || *stanza != "" || len(increments) > 0):
		return usageErrorf("backup verify: --barman-cloud restores from the object store: drop --base-backup, --wal-archive, --incremental and --pgbackrest")
	case *barmanURL != "" && *serverName == "":
		return usageErrorf("backup verify: --barman-cloud needs --server-name NAME (the name given to barman-cloud-backup)")
	case *barmanURL != "":
	case fs.isSet("server-name") || fs.isSet("endpoint-url"):
		return usageErrorf("backup verify: --server-name and --endpoint-url go with --barman-cloud s3://BUCKET[/PREFIX]")
	case *stanza != "" && (*base != "" || *archive != ""):
		return usageErrorf("backup verify: --pgbackrest restores from the stanza: drop --base-backup and --wal-archive")
	case *stanza != "" && len(increments) > 0:
		return usageErrorf("backup verify: --incremental adds to --base-backup; pgBackRest restores its own incremental sets (drop --incremental)")
	case *stanza == "" && (*base == "" || *archive == ""):
		return usageErrorf("backup verify: --base-backup DIR and --wal-archive DIR are required (or --pgbackrest STANZA)")
	}
	if *osUser != "" {
		if err := pitr.CheckOSUser(*osUser); err != nil {
			return usageErrorf("backup verify: %w", err)
		}
	}
	var backrest *pitr.PgBackRest
	if *stanza != "" {
		backrest = &pitr.PgBackRest{Stanza: *stanza, Config: *backrestConf}
	}
	var barman *pitr.BarmanCloud
	if *barmanURL != "" {
		if err := (&pitr.BarmanCloud{URL: *barmanURL, Server: *serverName, Endpoint: *endpoint}).Check(); err != nil {
			if strings.Contains(*endpoint, "@") {
				e.redactor.Add(*endpoint) // a URL with user:secret@ is not echoed
			}
			return usageErrorf("backup verify: %w", err)
		}
		client, err := s3.FromEnv()
		if err != nil {
			return usageErrorf("backup verify: --barman-cloud: %w", err)
		}
		if *endpoint != "" {
			client.Endpoint = *endpoint
		}
		barman = &pitr.BarmanCloud{URL: *barmanURL, Server: *serverName, Endpoint: *endpoint, Client: client}
	}
	var t time.Time
	switch {
	case *targetTime != "" && *target != "":
		return usageErrorf("backup verify: give --target-time or --target latest, not both")
	case *targetTime != "":
		var err error
		if t, err = pitr.ParseTime(*targetTime); err != nil {
			return usageErrorf("backup verify: --target-time %q: want a time with its zone, e.g. '2026-11-27 03:00:00+00'", *targetTime)
		}
	case *target == "latest":
	case *target != "":
		return usageErrorf("backup verify: --target %q: only latest (or give --target-time)", *target)
	default:
		return usageErrorf("backup verify: give --target-time T or --target latest")
	}
	if *sentinelDSN != "" {
		e.redactor.Add(*sentinelDSN)
	}
	log, _ := fs.logger()
	p := newProgress(e.stderr)
	p.update("restore drill: %s", *base)
	rep, err := pitr.Drill(ctx, pitr.Options{
		BaseBackup: *base, Increments: increments, WALArchive: *archive, Target: t, MaxAge: *maxAge, Checks: checks, Amcheck: *amcheck,
		User: *user, Database: *database, SentinelDSN: *sentinelDSN, PgBackRest: backrest, Barman: barman, BinDir: *pgBin, OSUser: *osUser, ScratchParent: *scratch, Timeout: *timeout, Log: log,
	})
	p.done()
	if rep != nil {
		if werr := fs.write(backupVerifyResult{rep}, drillTables(rep)...); werr != nil {
			return werr
		}
	}
	if err != nil {
		return fmt.Errorf("backup verify: %w (the scratch directory and server were removed)", err)
	}
	if !rep.Passed {
		return &exitError{code: ExitFindings, err: fmt.Errorf("backup verify: the %s step failed: %s", rep.Failed, rep.Steps[len(rep.Steps)-1].Detail)}
	}
	return nil
}

func drillTables(r *pitr.Report) []report.Table {
	var rows [][]string
	for _, s := range r.Steps {
		status := "passed"
		if !s.Passed {
			status = "FAILED"
		}
		rows = append(rows, []string{s.Name, status, durationString(s.Duration), s.Detail})
	}
	note := "Every step passed: the backup restores to the target."
	if !r.Passed {
		note = "The drill failed at " + r.Failed + "."
	}
	if r.LastReplayed != nil && r.Target != "latest" {
		note += fmt.Sprintf(" Data-loss window at the target: %s.", r.DataLoss.Round(time.Millisecond))
	}
	if !r.BackupStarted.IsZero() {
		note += fmt.Sprintf(" Backup age: %s.", r.BackupAge.Round(time.Minute))
	}
	if r.NewestWAL != "" {
		note += fmt.Sprintf(" Newest archived WAL %s, %s old (the archiving lag).", r.NewestWAL, r.ArchiveLag.Round(time.Second))
	}
	class := "ok"
	if !r.Passed {
		class = "failed"
	}
	tables := []report.Table{{Title: fmt.Sprintf("Restore drill of %s to %s", r.Backup, r.Target), Columns: []string{"step", "result", "took", "detail"}, Rows: rows, Note: note,
		Figure: drillFigure(r), Class: class}}
	if r.LastReplayed != nil || !r.BackupStarted.IsZero() {
		// The recovery point in full: what the note says in a line, with its times.
		p := report.Table{Title: "Recovery point", Figure: dataLossFigure(r)}
		if !r.BackupStarted.IsZero() {
			p.Fields = append(p.Fields, [2]string{"backup started", r.BackupStarted.UTC().Format(time.RFC3339)}, [2]string{"backup age", r.BackupAge.Round(time.Minute).String()})
		}
		if r.LastReplayed != nil {
			p.Fields = append(p.Fields, [2]string{"last commit replayed", r.LastReplayed.UTC().Format(time.RFC3339Nano)})
		}
		p.Fields = append(p.Fields, [2]string{"target", r.Target})
		if r.LastReplayed != nil && r.Target != "latest" {
			p.Fields = append(p.Fields, [2]string{"data-loss window", r.DataLoss.Round(time.Millisecond).String()})
		}
		if r.NewestWAL != "" {
			p.Fields = append(p.Fields, [2]string{"newest archived WAL", fmt.Sprintf("%s, %s old", r.NewestWAL, r.ArchiveLag.Round(time.Second))})
		}
		tables = append(tables, p)
	}
	return tables
}

const backupSentinelHelp = `Usage: pgtune backup sentinel [--dsn DSN] [flags]

Writes one heartbeat row (a counter and the time) into pgtune_sentinel.heartbeat, creating the
table the first time. Run it from cron (every minute, say) on the primary: every restore drill
then has a known target, and checks the row written just before it is restored and the one just
after it is not. --switch-wal closes the current WAL segment so the archive holds the row at once.
It writes to the database.

Examples:
  * * * * *  pgtune backup sentinel --dsn postgres://backup@db.internal/booking
  pgtune backup sentinel --switch-wal --format json
`

func runBackupSentinel(ctx context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e).withConnection().withOutput()
	note := fs.String("note", "", "a note stored with the row")
	switchWAL := fs.Bool("switch-wal", false, "close the current WAL segment after writing (pg_switch_wal)")
	if err := fs.parse(args, false); err != nil {
		return err
	}
	log, _ := fs.logger()
	conn, _, err := fs.connect(ctx, log)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	h, err := pitr.WriteSentinel(ctx, conn, *note, *switchWAL)
	if err != nil {
		return fmt.Errorf("backup sentinel: %w", err)
	}
	return fs.write(h, report.Table{Title: "Sentinel written", Fields: [][2]string{
		{"counter", fmt.Sprint(h.Counter)}, {"at", h.At.Format(time.RFC3339Nano)}}})
}
