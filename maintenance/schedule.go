package maintenance

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bookedbarber/pgtune/internal/connect"

	"github.com/bookedbarber/pgtune/internal/quote"
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
	// CredentialsFile (systemd's EnvironmentFile, sourced by the crontab line) and
	// CredentialsSecret (a Kubernetes Secret, every key an environment variable) hold an object
	// store's credentials, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: the drill of an S3 backup
	// reads them from its environment, never from its command line. Empty: none.
	CredentialsFile, CredentialsSecret string
}

// The shapes of the values the emitters write into crontab lines, unit files and YAML.
var (
	// jobName names files (/etc/cron.d allows no dot), units and a CronJob (a DNS label, at most
	// 52 characters so the Jobs' names fit).
	jobName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,50}[a-z0-9])?$`)
	osUser  = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	// imageRef, secretName, secretKey and timeZone are Kubernetes' own shapes.
	imageRef   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$`)
	secretName = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$`)
	secretKey  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,253}$`)
	timeZone   = regexp.MustCompile(`^[A-Za-z0-9_+/-]{1,64}$`)
)

// validate refuses what would not stay one value in the emitted file, and any password: the
// files say passwords never come from them, and they are often world-readable.
func (o ScheduleOptions) validate() error {
	if !jobName.MatchString(o.Name) {
		return fmt.Errorf("job name %q: want lower-case letters, digits and -, at most 52 (it names files, units and a CronJob)", o.Name)
	}
	if o.User != "" && !osUser.MatchString(o.User) {
		return fmt.Errorf("user %q: want an OS user name (lower-case letters, digits, _ and -)", o.User)
	}
	for what, p := range map[string]string{"binary": o.Binary, "history file": o.History} {
		if p != "" && (!strings.HasPrefix(p, "/") || quote.HasControl(p)) {
			return fmt.Errorf("%s %q: want an absolute path", what, p)
		}
	}
	checks := []struct {
		what, value string
		re          *regexp.Regexp
	}{{"image", o.Image, imageRef}, {"secret", o.Secret, secretName}, {"secret key", o.SecretKey, secretKey}, {"time zone", o.TimeZone, timeZone}}
	for _, c := range checks {
		if c.value != "" && !c.re.MatchString(c.value) {
			return fmt.Errorf("%s %q: not a valid Kubernetes %s", c.what, c.value, c.what)
		}
	}
	for _, v := range []string{o.Database, o.Role, o.Owner} {
		if quote.HasControl(v) {
			return fmt.Errorf("%q holds a control character", v)
		}
	}
	for k, v := range o.Env {
		if quote.HasControl(v) {
			return fmt.Errorf("%s holds a control character", k)
		}
		if connect.HasPassword(v) {
			return fmt.Errorf("%s holds a password: leave it out; the job reads it from ~/.pgpass (crontab, systemd) or the Secret (Kubernetes)", k)
		}
	}
	args := append(append([]string{}, o.Args...), o.Command...)
	for _, a := range args {
		if quote.HasControl(a) {
			return fmt.Errorf("argument %q holds a control character", a)
		}
	}
	if a, ok := PasswordArg(args); ok {
		return fmt.Errorf("the job's arguments hold a password (%s): %s", connect.RedactString(a), PasswordFix)
	}
	return nil
}

// PasswordFix is what to do instead of writing a password into a scheduled job.
const PasswordFix = "a scheduled command line is readable by every local user and kept in the file; give DSNs without it and put the password in ~/.pgpass of the job's user (crontab, systemd: PGPASSFILE for another file) or in the Kubernetes Secret"

// PasswordArg returns the first argument that carries a password: a DSN with one, a password=
// pair, or the value of a flag whose name says password.
func PasswordArg(args []string) (string, bool) {
	for i, a := range args {
		flagged := i > 0 && strings.HasPrefix(args[i-1], "-") && strings.Contains(strings.ToLower(args[i-1]), "password")
		if connect.HasPassword(a) || flagged || strings.Contains(strings.ToLower(a), "password=") {
			return a, true
		}
	}
	return "", false
}

// window returns the start's minute and hour and the window's length.
func (o ScheduleOptions) window() (minute, hour int, length time.Duration, err error) {
	if err := o.validate(); err != nil {
		return 0, 0, 0, err
	}
	at, err := time.Parse("15:04", o.At)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("--at %s is not a time of day: want HH:MM on a 24-hour clock, e.g. --at 01:30", o.At)
	}
	until, err := time.Parse("15:04", o.Until)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("--until %s is not a time of day: want HH:MM on a 24-hour clock, e.g. --until 05:00", o.Until)
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
	cmd := []string{"flock", "-n", "/var/lock/" + o.Name + ".lock"}
	if o.CredentialsFile != "" {
		// cron has no environment file: a shell reads it, exporting every line, then becomes pgtune.
		b.WriteString("# The object store's credentials come from " + o.CredentialsFile + " (AWS_ACCESS_KEY_ID=..., AWS_SECRET_ACCESS_KEY=...;\n# mode 0600, owned by the user below), never from this file.\n")
		cmd = append(cmd, "sh", "-c", quote.Crontab(`set -a; . "$1"; set +a; shift; exec "$@"`), "pgtune", quote.Crontab(o.CredentialsFile))
	}
	cmd = append(cmd, quote.Crontab(o.Binary))
	for _, a := range o.runArgs([]string{"--until", o.Until}) {
		cmd = append(cmd, quote.Crontab(a))
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
		fmt.Fprintf(&s, "Environment=%s\n", quote.Systemd(k+"="+o.Env[k]))
	}
	if o.CredentialsFile != "" {
		fmt.Fprintf(&s, "# The object store's credentials (AWS_ACCESS_KEY_ID=..., AWS_SECRET_ACCESS_KEY=...), mode 0600, never in this unit.\nEnvironmentFile=%s\n", o.CredentialsFile)
	}
	args := o.runArgs([]string{"--max-duration", durationFlag(length)})
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = quote.Systemd(a)
	}
	fmt.Fprintf(&s, "ExecStart=%s %s\n", quote.Systemd(o.Binary), strings.Join(quoted, " "))
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
// given time zone, and is stopped a little after the window. yaml.v3 writes it, so every value is
// quoted as YAML needs.
func Kubernetes(o ScheduleOptions) (string, error) {
	minute, hour, length, err := o.window()
	if err != nil {
		return "", err
	}
	type m = map[string]any
	labels := m{"app.kubernetes.io/name": "pgtune", "app.kubernetes.io/component": "maintenance"}
	if len(o.Command) > 0 {
		labels["app.kubernetes.io/component"] = "restore-drill"
	}
	container := m{
		"name":      "pgtune",
		"image":     o.Image,
		"args":      o.runArgs([]string{"--max-duration", durationFlag(length)}),
		"env":       []m{{"name": "DATABASE_URL", "valueFrom": m{"secretKeyRef": m{"name": o.Secret, "key": o.SecretKey}}}},
		"resources": m{"requests": m{"cpu": "50m", "memory": "64Mi"}, "limits": m{"memory": "256Mi"}},
	}
	if o.CredentialsSecret != "" {
		// Every key of the Secret (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...) as a variable.
		container["envFrom"] = []m{{"secretRef": m{"name": o.CredentialsSecret}}}
	}
	if len(o.Command) > 0 {
		// The drill restores a whole scratch server: more than a VACUUM driver's memory.
		container["resources"] = m{"requests": m{"cpu": "500m", "memory": "512Mi"}, "limits": m{"memory": "2Gi"}}
	}
	doc := yamlDoc{
		{"apiVersion", "batch/v1"}, {"kind", "CronJob"},
		{"metadata", yamlDoc{{"name", o.Name}, {"labels", labels}}},
		{"spec", yamlDoc{
			{"schedule", fmt.Sprintf("%d %d * * *", minute, hour)},
			{"timeZone", o.TimeZone},
			{"concurrencyPolicy", "Forbid"},
			{"startingDeadlineSeconds", 900},
			{"successfulJobsHistoryLimit", 3},
			{"failedJobsHistoryLimit", 5},
			{"jobTemplate", m{"spec": yamlDoc{
				{"backoffLimit", 0},
				{"activeDeadlineSeconds", int((length + 10*time.Minute).Seconds())},
				{"template", m{
					"metadata": m{"labels": m{"app.kubernetes.io/name": "pgtune"}},
					"spec": yamlDoc{
						{"restartPolicy", "Never"},
						{"terminationGracePeriodSeconds", 60},
						{"containers", []any{container}},
					},
				}},
			}}},
		}},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# pgtune nightly %s: kubectl apply -f this file. DATABASE_URL comes from the Secret\n# %s (key %s), never from this file.\n", o.what(), o.Secret, o.SecretKey)
	if o.CredentialsSecret != "" {
		fmt.Fprintf(&b, "# The object store's credentials come from the Secret %s (keys AWS_ACCESS_KEY_ID and\n# AWS_SECRET_ACCESS_KEY): kubectl create secret generic %s --from-env-file=s3.env\n", o.CredentialsSecret, o.CredentialsSecret)
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// yamlDoc is a mapping that keeps its keys in the order written (a Go map's are sorted).
type yamlDoc []struct {
	Key   string
	Value any
}

// MarshalYAML writes the mapping in order.
func (d yamlDoc) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, kv := range d {
		var v yaml.Node
		if err := v.Encode(kv.Value); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: kv.Key}, &v)
	}
	return n, nil
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
	lit, ident := quote.Literal, quote.Ident
	var b strings.Builder
	fmt.Fprintf(&b, "-- pgtune nightly maintenance with pg_cron for database %s, %s to %s (pg_cron's time zone, UTC by default).\n", o.Database, o.At, o.Until)
	b.WriteString("-- Run as a superuser in the database pg_cron is installed in (cron.database_name).\n")
	b.WriteString("-- pg_cron runs SQL, not pgtune: this is one database-wide VACUUM (SKIP_LOCKED, ANALYZE) as a role whose\n")
	b.WriteString("-- settings give it lock_timeout and the window as statement_timeout (pg_cron has no per-job options).\n\n")
	fmt.Fprintf(&b, "SELECT %s WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s)\\gexec\n",
		lit("CREATE ROLE "+ident(o.Role)+" LOGIN"), lit(o.Role))
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
