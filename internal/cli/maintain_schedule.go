package cli

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bookedbarber/pgtune/internal/connect"
	"github.com/bookedbarber/pgtune/maintenance"
)

const maintainScheduleHelp = `Usage: pgtune maintain schedule --emit crontab|systemd|k8s|pg_cron [--at HH:MM --until HH:MM] [flags]

Prints ready-to-install scheduling for the nightly 'pgtune maintain run' with the chosen window:

  crontab   a line for /etc/cron.d with flock, so a late run never overlaps the next
  systemd   a oneshot service (SIGTERM stops it cleanly, RuntimeMaxSec backs the window up) and
            its timer
  k8s       a Kubernetes CronJob with concurrencyPolicy: Forbid, the window as --max-duration and
            activeDeadlineSeconds, DATABASE_URL from a Secret
  pg_cron   SQL for pg_cron: pg_cron runs SQL inside the server, not pgtune, and cannot set options
            per job, so this is one database-wide VACUUM (SKIP_LOCKED, ANALYZE) as a dedicated role
            whose settings carry lock_timeout and the window (prefer the others where you can)

--job drill schedules the restore drill instead ('pgtune backup verify' with --drill-args), after the
nightly backup; --until then bounds the drill's run time (systemd, Kubernetes).

No password is ever written: crontab and systemd connect with the user's ~/.pgpass (the DSN given
is printed without its password), Kubernetes from a Secret.

Examples:
  pgtune maintain schedule --emit crontab --at 01:30 --until 05:00 --dsn postgres://maint@db.internal/booking
  pgtune maintain schedule --emit k8s --image registry.internal/pgtune:1.0 --secret booking-db
  pgtune maintain schedule --emit pg_cron --database booking --pg-version 16 --owner booking_owner
`

var scheduleEmits = []string{"crontab", "systemd", "k8s", "pg_cron"}

func runMaintainSchedule(_ context.Context, cmd *command, e *env, args []string) error {
	fs := newFlagSet(cmd, e)
	emit := fs.String("emit", "", "crontab, systemd, k8s or pg_cron (required)")
	at := fs.String("at", "01:30", "start, HH:MM")
	until := fs.String("until", "05:00", "end of the window, HH:MM (the next day if earlier than --at)")
	dsn := fs.String("dsn", "", "the database to maintain (its password is never printed: use ~/.pgpass)")
	name := fs.String("name", "pgtune-maintain", "job name")
	binary := fs.String("binary", "/usr/local/bin/pgtune", "crontab, systemd: pgtune's path")
	user := fs.String("user", "postgres", "crontab, systemd: the OS user the job runs as")
	history := fs.String("history", "/var/lib/pgtune/maintain-history.jsonl", "crontab, systemd: the history file (estimates learn from it)")
	extra := fs.String("run-args", "", "extra flags for 'pgtune maintain run', e.g. \"--jobs 2 --cost-delay 2ms\"")
	image := fs.String("image", "pgtune:latest", "k8s: the container image with pgtune")
	secret := fs.String("secret", "pgtune-database", "k8s: the Secret holding DATABASE_URL")
	secretKey := fs.String("secret-key", "DATABASE_URL", "k8s: the key in the Secret")
	tz := fs.String("timezone", "Etc/UTC", "k8s: the CronJob's time zone")
	database := fs.String("database", "", "pg_cron: the database to maintain (default: the --dsn's)")
	role := fs.String("role", "pgtune_maintenance", "pg_cron: the role the job runs as")
	owner := fs.String("owner", "", "pg_cron before 17: the role that owns the tables")
	version := fs.Int("pg-version", 0, "pg_cron: the server's major")
	lockTimeout := fs.Duration("lock-timeout", 5*time.Second, "pg_cron: lock_timeout of the job's role")
	job := fs.String("job", "maintain", "what to schedule: maintain (the nightly maintain run) or drill (pgtune backup verify with --drill-args)")
	drillArgs := fs.String("drill-args", "", "drill: the flags of 'pgtune backup verify', e.g. \"--base-backup /backups/base/latest --wal-archive /backups/wal --target latest --max-age 26h\"")
	s3Secret := fs.String("s3-secret", "pgtune-s3", "drill of an S3 backup (--barman-cloud; or --pgbackrest when given), k8s: the Secret whose keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, or PGBACKREST_REPO1_S3_KEY...) become the job's environment")
	s3EnvFile := fs.String("s3-env-file", "/etc/pgtune/s3.env", "drill of an S3 backup (--barman-cloud; or --pgbackrest when given), systemd and crontab: the file of NAME=value lines (AWS_ACCESS_KEY_ID=...) the job reads its environment from")
	if err := fs.parse(args, false); err != nil {
		return err
	}
	if !slices.Contains(scheduleEmits, *emit) {
		return usageErrorf("maintain schedule: --emit %q: want crontab, systemd, k8s or pg_cron", *emit)
	}
	for flag, v := range map[string]string{"--run-args": *extra, "--drill-args": *drillArgs} {
		if a, ok := maintenance.PasswordArg(strings.Fields(v)); ok {
			e.redactor.Add(a)
			return usageErrorf("maintain schedule: %s holds a password (%s): %s", flag, connect.RedactString(a), maintenance.PasswordFix)
		}
	}
	var command []string
	switch *job {
	case "maintain":
	case "drill":
		if *emit == "pg_cron" {
			return usageErrorf("maintain schedule: the drill restores a server of its own, which pg_cron (SQL inside the database) cannot do: use crontab, systemd or k8s")
		}
		if strings.TrimSpace(*drillArgs) == "" {
			return usageErrorf("maintain schedule: --job drill needs --drill-args, e.g. \"--base-backup DIR --wal-archive DIR --target latest\"")
		}
		command = append([]string{"backup", "verify"}, strings.Fields(*drillArgs)...)
		if *name == "pgtune-maintain" {
			*name = "pgtune-drill"
		}
	default:
		return usageErrorf("maintain schedule: --job %q: want maintain or drill", *job)
	}
	o := maintenance.ScheduleOptions{
		Name: *name, At: *at, Until: *until, Binary: *binary, User: *user, History: *history, Args: strings.Fields(*extra),
		Image: *image, Secret: *secret, SecretKey: *secretKey, TimeZone: *tz,
		Database: *database, Role: *role, Owner: *owner, Version: *version, LockTimeout: *lockTimeout,
		Env: map[string]string{}, Command: command,
	}
	// The store's keys: from a Secret or an environment file, never on the command line. A
	// --barman-cloud drill needs them; a pgBackRest one takes them so when asked (its
	// PGBACKREST_REPO1_S3_KEY and _SECRET, instead of pgbackrest.conf).
	barman := slices.ContainsFunc(command, func(a string) bool { return a == "--barman-cloud" || strings.HasPrefix(a, "--barman-cloud=") })
	if len(command) > 0 && (barman || fs.isSet("s3-secret") || fs.isSet("s3-env-file")) {
		o.CredentialsSecret, o.CredentialsFile = *s3Secret, *s3EnvFile
	}
	if *dsn != "" {
		clean, db, err := withoutPassword(*dsn)
		if err != nil {
			return usageErrorf("maintain schedule: --dsn: %w", err)
		}
		e.redactor.Add(*dsn)
		o.Env["DATABASE_URL"] = clean
		if o.Database == "" {
			o.Database = db
		}
	}
	var out string
	var err error
	switch *emit {
	case "crontab":
		out, err = maintenance.Crontab(o)
	case "systemd":
		var service, timer string
		service, timer, err = maintenance.Systemd(o)
		out = service + "\n" + timer
	case "k8s":
		out, err = maintenance.Kubernetes(o)
	case "pg_cron":
		if o.Database == "" {
			return usageErrorf("maintain schedule: pg_cron needs --database (or a --dsn naming one)")
		}
		out, err = maintenance.PgCron(o)
	}
	if err != nil {
		return usageErrorf("maintain schedule: %w", err)
	}
	_, err = fmt.Fprint(e.stdout, out)
	return err
}

// withoutPassword strips the password from a URL DSN (key=value strings keep everything but a
// password= pair), and returns the database it names.
func withoutPassword(dsn string) (string, string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", "", fmt.Errorf("not a URL: %w", err)
		}
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		return u.String(), strings.TrimPrefix(u.Path, "/"), nil
	}
	var keep []string
	db := ""
	for _, kv := range strings.Fields(dsn) {
		k, v, _ := strings.Cut(kv, "=")
		if k == "password" {
			continue
		}
		if k == "dbname" {
			db = strings.Trim(v, "'")
		}
		keep = append(keep, kv)
	}
	return strings.Join(keep, " "), db, nil
}
