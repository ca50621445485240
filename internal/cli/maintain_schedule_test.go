package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

func TestMaintainScheduleCrontab(t *testing.T) {
	r := run(t, "maintain", "schedule", "--emit", "crontab", "--at", "01:30", "--until", "05:00",
		"--dsn", "postgres://maint:s3cret@db.internal/booking", "--run-args", "--jobs 2")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"DATABASE_URL=postgres://maint@db.internal/booking\n",
		"30 1 * * * postgres flock -n /var/lock/pgtune-maintain.lock /usr/local/bin/pgtune maintain run --until 05:00 --history /var/lib/pgtune/maintain-history.jsonl --log-format json --jobs 2 >> /var/log/pgtune-maintain.log 2>&1\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("crontab lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "s3cret") {
		t.Error("the password was printed")
	}
}

// The systemd units pass systemd-analyze verify where it is installed.
func TestMaintainScheduleSystemd(t *testing.T) {
	r := run(t, "maintain", "schedule", "--emit", "systemd", "--at", "23:30", "--until", "02:00", "--binary", "/bin/true")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	service, timer, ok := strings.Cut(r.stdout, "# /etc/systemd/system/pgtune-maintain.timer")
	if !ok {
		t.Fatalf("no timer unit:\n%s", r.stdout)
	}
	timer = "# /etc/systemd/system/pgtune-maintain.timer" + timer
	for _, want := range []string{"Type=oneshot", "--max-duration 2h30m", "KillSignal=SIGTERM", "TimeoutStartSec=9600"} {
		if !strings.Contains(service, want) {
			t.Errorf("service lacks %q:\n%s", want, service)
		}
	}
	if !strings.Contains(timer, "OnCalendar=*-*-* 23:30:00") {
		t.Errorf("timer:\n%s", timer)
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: the units are checked as text only")
		return
	}
	dir := t.TempDir()
	for name, body := range map[string]string{"pgtune-maintain.service": service, "pgtune-maintain.timer": timer} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(analyze, "verify", filepath.Join(dir, "pgtune-maintain.service"), filepath.Join(dir, "pgtune-maintain.timer")).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestMaintainScheduleKubernetes(t *testing.T) {
	r := run(t, "maintain", "schedule", "--emit", "k8s", "--at", "01:00", "--until", "04:00", "--image", "registry.internal/pgtune:1.0", "--secret", "booking-db")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var cj struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Schedule          string `yaml:"schedule"`
			TimeZone          string `yaml:"timeZone"`
			ConcurrencyPolicy string `yaml:"concurrencyPolicy"`
			JobTemplate       struct {
				Spec struct {
					ActiveDeadlineSeconds int `yaml:"activeDeadlineSeconds"`
					Template              struct {
						Spec struct {
							RestartPolicy string `yaml:"restartPolicy"`
							Containers    []struct {
								Image string   `yaml:"image"`
								Args  []string `yaml:"args"`
								Env   []struct {
									Name      string `yaml:"name"`
									ValueFrom struct {
										SecretKeyRef struct{ Name, Key string } `yaml:"secretKeyRef"`
									} `yaml:"valueFrom"`
								} `yaml:"env"`
							} `yaml:"containers"`
						} `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			} `yaml:"jobTemplate"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal([]byte(r.stdout), &cj); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, r.stdout)
	}
	js := cj.Spec.JobTemplate.Spec
	c := js.Template.Spec.Containers
	if cj.Kind != "CronJob" || cj.Spec.Schedule != "0 1 * * *" || cj.Spec.ConcurrencyPolicy != "Forbid" || cj.Spec.TimeZone != "Etc/UTC" ||
		js.ActiveDeadlineSeconds != 3*3600+600 || js.Template.Spec.RestartPolicy != "Never" || len(c) != 1 ||
		c[0].Image != "registry.internal/pgtune:1.0" || strings.Join(c[0].Args[:4], " ") != "maintain run --max-duration 3h" ||
		c[0].Env[0].ValueFrom.SecretKeyRef.Name != "booking-db" {
		t.Errorf("CronJob: %+v", cj)
	}
}

// The pg_cron SQL runs on a server with pg_cron and schedules the job as the dedicated role, whose
// settings carry lock_timeout and the window.
func TestMaintainSchedulePgCron(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		srv := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Conf: "shared_preload_libraries = 'pg_stat_statements,pg_cron'\ncron.database_name = 'postgres'\n"})
		ctx := t.Context()
		conn, err := pgx.Connect(ctx, srv.AdminDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		for _, sql := range []string{"CREATE EXTENSION pg_cron", "CREATE ROLE app", "CREATE DATABASE booking OWNER app"} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		var major int
		if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int / 10000").Scan(&major); err != nil {
			t.Fatal(err)
		}
		r := run(t, "maintain", "schedule", "--emit", "pg_cron", "--database", "booking", "--pg-version", itoa(major), "--owner", "app", "--at", "02:15", "--until", "04:15")
		if r.code != ExitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if err := srv.WriteFile(ctx, srv.Dir+"/pg_cron.sql", r.stdout); err != nil {
			t.Fatal(err)
		}
		if out, err := srv.Exec(ctx, "psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", itoa(srv.ServerPort), "-U", "postgres", "-d", "postgres", "-f", srv.Dir+"/pg_cron.sql"); err != nil {
			t.Fatalf("the pg_cron SQL fails: %v\n%s\n%s", err, out, r.stdout)
		}
		var schedule, command, database, username string
		if err := conn.QueryRow(ctx, "SELECT schedule, command, database, username FROM cron.job WHERE jobname = 'pgtune-maintain'").Scan(&schedule, &command, &database, &username); err != nil {
			t.Fatal(err)
		}
		if schedule != "15 2 * * *" || !strings.HasPrefix(command, "VACUUM (SKIP_LOCKED, ANALYZE") || database != "booking" || username != "pgtune_maintenance" {
			t.Errorf("cron.job: %q %q %q %q", schedule, command, database, username)
		}
		var settings string
		if err := conn.QueryRow(ctx, `SELECT array_to_string(s.setconfig, ',') FROM pg_db_role_setting s
JOIN pg_roles r ON r.oid = s.setrole JOIN pg_database d ON d.oid = s.setdatabase WHERE r.rolname = 'pgtune_maintenance' AND d.datname = 'booking'`).Scan(&settings); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(settings, "lock_timeout=5000ms") || !strings.Contains(settings, "statement_timeout=7200s") {
			t.Errorf("role settings %q", settings)
		}
		// 17+: pg_maintain (VACUUM and ANALYZE of every table, nothing else); before, the owner's rights.
		granted := "app"
		if major >= 17 {
			granted = "pg_maintain"
		}
		var member bool
		if err := conn.QueryRow(ctx, "SELECT pg_has_role('pgtune_maintenance', $1, 'USAGE')", granted).Scan(&member); err != nil || !member {
			t.Errorf("pgtune_maintenance is not a member of %s (%v)", granted, err)
		}
		if major >= 17 {
			if err := conn.QueryRow(ctx, "SELECT pg_has_role('pgtune_maintenance', 'app', 'USAGE')").Scan(&member); err != nil || member {
				t.Errorf("on %d pgtune_maintenance needs no owner's rights, yet has them (%v)", major, err)
			}
		}
	})
}

func TestMaintainScheduleBadInput(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"--emit", "launchd"}, "want crontab, systemd, k8s or pg_cron"},
		{[]string{"--emit", "crontab", "--at", "25:00"}, "--at 25:00 is not a time of day: want HH:MM on a 24-hour clock"},
		{[]string{"--emit", "crontab", "--until", "5pm"}, "--until 5pm is not a time of day"},
		{[]string{"--emit", "pg_cron", "--pg-version", "16"}, "pg_cron needs --database"},
		{[]string{"--emit", "pg_cron", "--database", "booking", "--pg-version", "16"}, "give --owner"},
		{[]string{"--emit", "pg_cron", "--database", "booking"}, "give --pg-version"},
	}
	for _, c := range cases {
		r := run(t, append([]string{"maintain", "schedule"}, c.args...)...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, c.msg) || r.stdout != "" {
			t.Errorf("%v: exit %d, %q; want exit 2 naming %q", c.args, r.code, r.stderr, c.msg)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestMaintainScheduleDrill(t *testing.T) {
	r := run(t, "maintain", "schedule", "--emit", "crontab", "--job", "drill", "--at", "06:00", "--until", "07:00",
		"--drill-args", "--base-backup /backups/base/latest --wal-archive /backups/wal --target latest --max-age 26h")
	if r.code != ExitOK || !strings.Contains(r.stdout, "0 6 * * * postgres flock -n /var/lock/pgtune-drill.lock /usr/local/bin/pgtune backup verify --base-backup /backups/base/latest --wal-archive /backups/wal --target latest --max-age 26h --log-format json") {
		t.Errorf("drill crontab: exit %d %s\n%s", r.code, r.stderr, r.stdout)
	}
	if r := run(t, "maintain", "schedule", "--emit", "pg_cron", "--job", "drill", "--drill-args", "--target latest"); r.code != ExitUsage || !strings.Contains(r.stderr, "pg_cron (SQL inside the database) cannot") {
		t.Errorf("drill with pg_cron: exit %d %s", r.code, r.stderr)
	}
}

// The drill of an S3 backup takes the store's keys from the environment: a Secret in
// Kubernetes, systemd's EnvironmentFile, a file the crontab line's shell exports. The wrapper
// the crontab runs is run here for real.
func TestMaintainScheduleDrillS3(t *testing.T) {
	args := "--barman-cloud s3://backups/booking --server-name booking --endpoint-url https://s3.internal --target latest --max-age 26h"
	r := run(t, "maintain", "schedule", "--emit", "k8s", "--job", "drill", "--at", "06:00", "--until", "07:00", "--image", "pgtune:pg17", "--drill-args", args)
	var doc struct {
		Spec struct {
			JobTemplate struct {
				Spec struct {
					Template struct {
						Spec struct {
							Containers []struct {
								Image   string `yaml:"image"`
								EnvFrom []struct {
									SecretRef struct{ Name string } `yaml:"secretRef"`
								} `yaml:"envFrom"`
							} `yaml:"containers"`
						} `yaml:"spec"`
					} `yaml:"template"`
				} `yaml:"spec"`
			} `yaml:"jobTemplate"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != ExitOK {
		t.Fatalf("k8s: exit %d %v\n%s", r.code, err, r.stdout)
	}
	c := doc.Spec.JobTemplate.Spec.Template.Spec.Containers
	if len(c) != 1 || c[0].Image != "pgtune:pg17" || len(c[0].EnvFrom) != 1 || c[0].EnvFrom[0].SecretRef.Name != "pgtune-s3" {
		t.Errorf("k8s: the container's credentials: %+v", c)
	}

	r = run(t, "maintain", "schedule", "--emit", "systemd", "--job", "drill", "--at", "06:00", "--until", "07:00", "--s3-env-file", "/etc/pgtune/booking-s3.env", "--drill-args", args)
	if !strings.Contains(r.stdout, "\nEnvironmentFile=/etc/pgtune/booking-s3.env\n") {
		t.Errorf("systemd: no EnvironmentFile:\n%s", r.stdout)
	}

	r = run(t, "maintain", "schedule", "--emit", "crontab", "--job", "drill", "--at", "06:00", "--until", "07:00", "--drill-args", args)
	_, rest, ok := strings.Cut(r.stdout, "sh -c '")
	script, after, ok2 := strings.Cut(rest, "' pgtune /etc/pgtune/s3.env /usr/local/bin/pgtune backup verify --barman-cloud")
	if !ok || !ok2 || !strings.Contains(after, "--log-format json >> /var/log/pgtune-drill.log") {
		t.Fatalf("crontab: no environment-file wrapper:\n%s", r.stdout)
	}
	env := filepath.Join(t.TempDir(), "s3.env")
	if err := os.WriteFile(env, []byte("AWS_ACCESS_KEY_ID=AKIATEST\nAWS_SECRET_ACCESS_KEY=\"se cret\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", script, "pgtune", env, "sh", "-c", `printf '%s|%s' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"`).CombinedOutput()
	if err != nil || string(out) != "AKIATEST|se cret" {
		t.Errorf("the crontab's wrapper exported %q (%v)", out, err)
	}
	// A pgBackRest drill whose repository's keys live in the environment, when asked.
	r = run(t, "maintain", "schedule", "--emit", "systemd", "--job", "drill", "--s3-env-file", "/etc/pgtune/pgbackrest-s3.env", "--drill-args", "--pgbackrest booking --target latest")
	if !strings.Contains(r.stdout, "\nEnvironmentFile=/etc/pgtune/pgbackrest-s3.env\n") {
		t.Errorf("a pgBackRest drill given --s3-env-file:\n%s", r.stdout)
	}
	// Without an S3 source, no credentials are wired in.
	r = run(t, "maintain", "schedule", "--emit", "systemd", "--job", "drill", "--drill-args", "--base-backup /b --wal-archive /w --target latest")
	if strings.Contains(r.stdout, "EnvironmentFile") {
		t.Errorf("a local drill got an EnvironmentFile:\n%s", r.stdout)
	}
}
