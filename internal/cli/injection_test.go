package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every value that lands in a generated file stays one value: a newline in a pgbouncer flag is
// refused (it would add a later auth_type = trust), exit 2 naming the problem, nothing written.
func TestPgbouncerRefusesInjection(t *testing.T) {
	evil := "a\nauth_type = trust"
	for _, flag := range []string{"--auth-user", "--stats-users", "--admin-users", "--listen-addr", "--log-dir", "--runtime-dir", "--server-host", "--auth-file", "--database"} {
		for _, format := range []string{"ini", "sql"} {
			dir := t.TempDir()
			args := []string{"pgbouncer", "--memory", "8GB", "--cpus", "4", "--database", "booking", "--format", format, "--out-dir", dir, flag, evil}
			r := run(t, args...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, flag) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("%s %q (%s): exit %d, stderr %q; want exit 2 and one line", flag, evil, format, r.code, r.stderr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("%s: %d file(s) written", flag, len(entries))
			}
			if strings.Contains(r.stdout, "auth_type = trust") {
				t.Errorf("%s: the injected setting reached stdout", flag)
			}
		}
	}
	// A psql meta-command in a role name never reaches auth_setup.sql.
	r := run(t, "pgbouncer", "--memory", "8GB", "--cpus", "4", "--database", "booking", "--format", "sql", "--auth-user", "x\n\\! touch /tmp/pwned")
	if r.code != ExitUsage || strings.Contains(r.stdout, `\!`) {
		t.Errorf("psql command in --auth-user: exit %d\n%s", r.code, r.stdout)
	}
}

// The header of a rendered file shows the command without any password (URL or key=value) and
// on one line.
func TestCommandLineHeader(t *testing.T) {
	got := commandLine("config", []string{"--dsn", "postgres://u:PW-url@db/booking", "--dsn=host=db password=PW-kv user=u", "--note", "a\n# fsync = off", "--admin-password", "PW-flag"})
	for _, secret := range []string{"PW-url", "PW-kv", "PW-flag"} {
		if strings.Contains(got, secret) {
			t.Errorf("%s left in %s", secret, got)
		}
	}
	if strings.Contains(got, "\n") {
		t.Errorf("the header spans lines: %q", got)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "pgtune.conf")
	r := run(t, "config", "--memory", "8GB", "--cpus", "4", "--out", out, "--pooler-dsn", "x")
	_ = r // an unknown flag is refused before anything is written
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused command left a file")
	}
}

// Scheduled jobs: every emitter refuses a password in the job's arguments (naming ~/.pgpass and
// the Secret) and a value that would break its file; crontab escapes '%', systemd doubles it.
func TestScheduleRefusesSecretsAndInjection(t *testing.T) {
	for _, emit := range []string{"crontab", "systemd", "k8s"} {
		for _, c := range []struct {
			args []string
			msg  string
		}{
			{[]string{"--job", "drill", "--drill-args", "--base-backup /b --sentinel-dsn postgres://u:PW-drill@db/booking"}, "~/.pgpass"},
			{[]string{"--job", "drill", "--drill-args", "--base-backup /b --sentinel-dsn host=db password=PW-drill"}, "Secret"},
			{[]string{"--run-args", "--jobs 2 --dsn postgresql://u:PW-drill@db/x"}, "--run-args holds a password"},
			{[]string{"--name", "x\n* * * * * root rm -rf /"}, "job name"},
			{[]string{"--user", "root\nPATH=/tmp"}, "user"},
			{[]string{"--image", "pgtune:1\n    privileged: true"}, "image"},
			{[]string{"--dsn", "postgres://u@db/booking\nX=1"}, "control character"},
		} {
			r := run(t, append([]string{"maintain", "schedule", "--emit", emit}, c.args...)...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, c.msg) || r.stdout != "" || strings.Contains(r.stderr, "PW-drill") {
				t.Errorf("%s %q: exit %d, stderr %q; want exit 2 naming %q, no password", emit, c.args, r.code, r.stderr, c.msg)
			}
		}
	}
	r := run(t, "maintain", "schedule", "--emit", "crontab", "--run-args", "--note 100%")
	if r.code != ExitOK || !strings.Contains(r.stdout, `'100\%'`) {
		t.Errorf("crontab %%: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "maintain", "schedule", "--emit", "systemd", "--run-args", "--note 100%")
	if r.code != ExitOK || !strings.Contains(r.stdout, `"100%%"`) {
		t.Errorf("systemd %%: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A negative duration is a usage error naming the flag, for every command's duration flags.
func TestNegativeDurations(t *testing.T) {
	for _, args := range [][]string{
		{"advise", "--demo", "--sample", "-5s"},
		{"advise", "--demo", "--statement-timeout", "-1s"},
		{"snapshot", "--out", "-", "--statement-timeout=-1s"},
		{"migrate", "up", "--dir", ".", "--wait", "-1s"},
		{"maintain", "run", "--lock-timeout", "-1s"},
		{"maintain", "run", "--cost-delay", "-2ms"},
		{"maintain", "run", "--max-duration", "-1h"},
		{"maintain", "schedule", "--emit", "pg_cron", "--lock-timeout", "-1s"},
		{"pgbouncer", "--database", "booking", "--memory", "8GB", "--cpus", "4", "--app-timeout", "-3s"},
		{"backup", "verify", "--max-age", "-26h"},
	} {
		// The negative value is the last argument, or the last one's after "=".
		last := args[len(args)-1]
		flagName, _, ok := strings.Cut(last, "=")
		if !ok {
			flagName = args[len(args)-2]
		}
		r := run(t, args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "cannot be negative") || !strings.Contains(r.stderr, flagName) || r.stdout != "" {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 naming %s", args, r.code, r.stderr, flagName)
		}
	}
}

// maintain run names the one flag whose value it refuses, not every constraint it has.
func TestMaintainRunNamesTheFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--jobs", "0"}, "--jobs 0: want 1 to 64"},
		{[]string{"--jobs", "65"}, "--jobs 65: want 1 to 64"},
		{[]string{"--lock-timeout", "0s"}, "--lock-timeout 0s: want a positive duration"},
		{[]string{"--parallel", "-1"}, "--parallel -1: want 0"},
		{[]string{"--cost-limit", "-5"}, "--cost-limit -5: PostgreSQL's vacuum_cost_limit is 1 to 10000"},
	} {
		r := run(t, append([]string{"maintain", "run"}, c.args...)...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, c.want) || strings.Count(r.stderr, "--") > 2 {
			t.Errorf("%q: exit %d, %q; want %q alone", c.args, r.code, r.stderr, c.want)
		}
	}
}
