package maintenance

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ScheduleOptions describe the nightly run to schedule.
type ScheduleOptions struct {
	// Name identifies the job (crontab lock file, systemd units, CronJob, pg_cron job).
	Name string
	// At is the start time, HH:MM; Until the window's end, HH:MM (the next day if earlier).
	At, Until string
	// Binary is pgtune's path on the host (crontab, systemd).
	Binary string
	// Env are the environment variables the run connects with (never a password: use
	// ~/.pgpass, PGPASSFILE or a Kubernetes Secret).
	Env map[string]string
	// Args are extra flags for `pgtune maintain run` (e.g. --jobs 2).
	Args []string
	// User runs the job (crontab, systemd).
	User string
	// History is the history file (crontab, systemd).
	History string
	// Image, Secret, SecretKey and TimeZone are the Kubernetes CronJob's.
	Image, Secret, SecretKey, TimeZone string
	// Database, Role, Owner and Version are pg_cron's: the database to maintain, the role the
	// job runs as, the role owning the tables (before 17) and the server's major.
	Database, Role, Owner string
	Version               int
	LockTimeout           time.Duration
	// Command, when set, replaces `maintain run` and its window: the restore drill's
	// `backup verify ...` arguments, scheduled the same way.
	Command []string
}

// window returns the start's minute and hour and the window's length.
func (o ScheduleOptions) window() (minute, hour int, length time.Duration, err error) {
	at, err := time.Parse("15:04", o.At)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("start %q: want HH:MM", o.At)
	}
	until, err := time.Parse("15:04", o.Until)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("window end %q: want HH:MM", o.Until)
	}
	length = until.Sub(at)
	if length <= 0 {
		length += 24 * time.Hour
	}
	return at.Minute(), at.Hour(), length, nil
}

// what names the job for people.
func (o ScheduleOptions) what() string {
	if len(o.Command) > 0 {
		return "restore drill (" + o.Command[0] + " " + o.Command[1] + ")"
	}
	return "maintenance (VACUUM, ANALYZE, FREEZE)"
}

// runArgs are the flags of the scheduled `pgtune maintain run` (or of the Command).
func (o ScheduleOptions) runArgs(windowFlag []string) []string {
	if len(o.Command) > 0 {
		return append(append([]string{}, o.Command...), "--log-format", "json")
	}
	args := append([]string{"maintain", "run"}, windowFlag...)
	if o.History != "" {
		args = append(args, "--history", o.History)
	}
	args = append(args, "--log-format", "json")
	return append(args, o.Args...)
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func sortedEnv(env map[string]string) []string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Crontab is a line for /etc/cron.d: flock keeps a late run from overlapping the next (the
// advisory lock would also refuse it, with status 4), the window ends at Until.
func Crontab(o ScheduleOptions) (string, error) {
	minute, hour, _, err := o.window()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# /etc/cron.d/%s: pgtune nightly %s, %s to %s (server local time)\n", o.Name, o.what(), o.At, o.Until)
	b.WriteString("# The password comes from ~/.pgpass (or PGPASSFILE) of the user below, never from this file.\n")
	for _, k := range sortedEnv(o.Env) {
		fmt.Fprintf(&b, "%s=%s\n", k, o.Env[k])
	}
	cmd := []string{"flock", "-n", "/var/lock/" + o.Name + ".lock", o.Binary}
	for _, a := range o.runArgs([]string{"--until", o.Until}) {
		cmd = append(cmd, shellQuote(a))
	}
	fmt.Fprintf(&b, "%d %d * * * %s %s >> /var/log/%s.log 2>&1\n", minute, hour, o.User, strings.Join(cmd, " "), o.Name)
	return b.String(), nil
}

// Systemd is a oneshot service and its timer (systemd runs one instance of a unit at a time).
func Systemd(o ScheduleOptions) (service, timer string, err error) {
	minute, hour, length, err := o.window()
	if err != nil {
		return "", "", err
	}
	var s strings.Builder
	fmt.Fprintf(&s, "# /etc/systemd/system/%s.service\n[Unit]\nDescription=pgtune nightly %s until %s\n", o.Name, o.what(), o.Until)
	s.WriteString("After=network-online.target\nWants=network-online.target\n\n[Service]\nType=oneshot\n")
	fmt.Fprintf(&s, "User=%s\n", o.User)
	for _, k := range sortedEnv(o.Env) {
		fmt.Fprintf(&s, "Environment=%s=%s\n", k, o.Env[k])
	}
	args := o.runArgs([]string{"--max-duration", durationFlag(length)})
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	fmt.Fprintf(&s, "ExecStart=%s %s\n", o.Binary, strings.Join(quoted, " "))
	s.WriteString("# SIGTERM makes pgtune cancel the running VACUUM on the server and print its summary.\nKillSignal=SIGTERM\nTimeoutStopSec=60\n")
	fmt.Fprintf(&s, "# A oneshot service's whole run counts as its start: a hard stop a little after the window.\nTimeoutStartSec=%d\n", int((length + 10*time.Minute).Seconds()))
	s.WriteString("Nice=10\nIOSchedulingClass=best-effort\nIOSchedulingPriority=7\n")
	var t strings.Builder
	fmt.Fprintf(&t, "# /etc/systemd/system/%s.timer (systemctl enable --now %s.timer)\n[Unit]\nDescription=Start %s.service nightly at %s\n\n[Timer]\n", o.Name, o.Name, o.Name, o.At)
	fmt.Fprintf(&t, "OnCalendar=*-*-* %02d:%02d:00\nPersistent=false\nUnit=%s.service\n\n[Install]\nWantedBy=timers.target\n", hour, minute, o.Name)
	return s.String(), t.String(), nil
}

// durationFlag renders a window length as a Go duration flag (3h30m0s → 3h30m).
func durationFlag(d time.Duration) string {
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

// Kubernetes is a CronJob that never overlaps itself (concurrencyPolicy: Forbid), runs in the
// given time zone, and is stopped a little after the window.
func Kubernetes(o ScheduleOptions) (string, error) {
	minute, hour, length, err := o.window()
	if err != nil {
		return "", err
	}
	args := o.runArgs([]string{"--max-duration", durationFlag(length)})
	var b strings.Builder
	fmt.Fprintf(&b, `# pgtune nightly %s: kubectl apply -f this file. DATABASE_URL comes from the Secret
# %s (key %s), never from this file.
apiVersion: batch/v1
kind: CronJob
metadata:
  name: %s
  labels:
    app.kubernetes.io/name: pgtune
    app.kubernetes.io/component: maintenance
spec:
  schedule: "%d %d * * *"
  timeZone: %s
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 900
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 5
  jobTemplate:
    spec:
      backoffLimit: 0
      activeDeadlineSeconds: %d
      template:
        metadata:
          labels:
            app.kubernetes.io/name: pgtune
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 60
          containers:
            - name: pgtune
              image: %s
              args:
`, o.what(), o.Secret, o.SecretKey, o.Name, minute, hour, strconv.Quote(o.TimeZone), int((length + 10*time.Minute).Seconds()), o.Image)
	for _, a := range args {
		fmt.Fprintf(&b, "                - %s\n", strconv.Quote(a))
	}
	fmt.Fprintf(&b, `              env:
                - name: DATABASE_URL
                  valueFrom:
                    secretKeyRef:
                      name: %s
                      key: %s
              resources:
                requests:
                  cpu: 50m
                  memory: 64Mi
                limits:
                  memory: 256Mi
`, o.Secret, o.SecretKey)
	return b.String(), nil
}

// PgCron is the SQL that schedules the nightly work inside the server with pg_cron. pg_cron
// runs SQL, not programs, and cannot set options per job, so the run becomes one database-wide
// VACUUM (SKIP_LOCKED, ANALYZE) as a dedicated role whose settings give it pgtune's lock_timeout
// and the window as statement_timeout. It has no priorities and no estimates: `pgtune maintain
// run` from cron, systemd or Kubernetes is the better tool where one of them is available.
func PgCron(o ScheduleOptions) (string, error) {
	minute, hour, length, err := o.window()
	if err != nil {
		return "", err
	}
	if o.Version < 13 {
		return "", fmt.Errorf("pg_cron's SQL needs the server's major: give --pg-version")
	}
	if o.Version < 17 && o.Owner == "" {
		return "", fmt.Errorf("before PostgreSQL 17 only a table's owner (or a superuser) may VACUUM it: give --owner, the role that owns the tables")
	}
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	ident := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	var b strings.Builder
	fmt.Fprintf(&b, "-- pgtune nightly maintenance with pg_cron for database %s, %s to %s (pg_cron's time zone, UTC by default).\n", o.Database, o.At, o.Until)
	b.WriteString("-- Run as a superuser in the database pg_cron is installed in (cron.database_name).\n")
	b.WriteString("-- pg_cron runs SQL, not pgtune: this is one database-wide VACUUM (SKIP_LOCKED, ANALYZE) as a role whose\n")
	b.WriteString("-- settings give it lock_timeout and the window as statement_timeout (pg_cron has no per-job options).\n\n")
	fmt.Fprintf(&b, "SELECT 'CREATE ROLE %s LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s)\\gexec\n",
		strings.ReplaceAll(ident(o.Role), "'", "''"), lit(o.Role))
	if o.Version >= 17 {
		fmt.Fprintf(&b, "GRANT pg_maintain TO %s;  -- 17+: VACUUM and ANALYZE any table, nothing else\n", ident(o.Role))
	} else {
		fmt.Fprintf(&b, "GRANT %s TO %s;  -- before 17, VACUUM needs the tables' owner's rights\n", ident(o.Owner), ident(o.Role))
	}
	fmt.Fprintf(&b, "ALTER ROLE %s IN DATABASE %s SET lock_timeout = %s;\n", ident(o.Role), ident(o.Database), lit(fmt.Sprintf("%dms", o.LockTimeout.Milliseconds())))
	fmt.Fprintf(&b, "ALTER ROLE %s IN DATABASE %s SET statement_timeout = %s;\n", ident(o.Role), ident(o.Database), lit(fmt.Sprintf("%ds", int(length.Seconds()))))
	fmt.Fprintf(&b, "ALTER ROLE %s IN DATABASE %s SET application_name = 'pgtune maintain (pg_cron)';\n", ident(o.Role), ident(o.Database))
	opts := "SKIP_LOCKED, ANALYZE, TRUNCATE false"
	if o.Version >= 14 {
		opts += ", PROCESS_TOAST true"
	}
	// cron.schedule_in_database arrived in pg_cron 1.4; before it (Debian bullseye's 1.3 for
	// PostgreSQL 13, say) a named job is scheduled and then pointed at the database and role.
	const tag = "$pgtune_cron$"
	for _, v := range []string{o.Name, o.Database, o.Role} {
		if strings.Contains(v, tag) {
			return "", fmt.Errorf("%q holds %s, which the pg_cron SQL uses as its quote: choose another name", v, tag)
		}
	}
	name, sched, cmd := lit(o.Name), lit(fmt.Sprintf("%d %d * * *", minute, hour)), lit("VACUUM ("+opts+")")
	fmt.Fprintf(&b, "DO %s\nBEGIN\n", tag)
	b.WriteString("  IF EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE proname = 'schedule_in_database' AND pronamespace = 'cron'::regnamespace) THEN\n")
	fmt.Fprintf(&b, "    PERFORM cron.schedule_in_database(%s, %s, %s, %s, %s);\n", name, sched, cmd, lit(o.Database), lit(o.Role))
	b.WriteString("  ELSE  -- pg_cron before 1.4\n")
	fmt.Fprintf(&b, "    PERFORM cron.schedule(%s, %s, %s);\n", name, sched, cmd)
	fmt.Fprintf(&b, "    UPDATE cron.job SET database = %s, username = %s WHERE jobname = %s;\n", lit(o.Database), lit(o.Role), name)
	fmt.Fprintf(&b, "  END IF;\nEND\n%s;\n", tag)
	b.WriteString("-- pg_cron needs the role to log in from its own connection: allow it in pg_hba.conf for local connections,\n")
	b.WriteString("-- or set cron.use_background_workers = on. Check the runs: SELECT * FROM cron.job_run_details ORDER BY start_time DESC;\n")
	return b.String(), nil
}
