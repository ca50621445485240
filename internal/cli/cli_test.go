package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/pgtest"
	"github.com/bookedbarber/pgtune/internal/report"
)

var update = flag.Bool("update", false, "rewrite the expected outputs (testdata/cli cases, index engine cases)")

// asPgtune, set in the environment, makes the test binary the pgtune command itself: its value
// is the arguments, separated by the unit separator (0x1f). Tests that must kill pgtune (kill -9) run it so.
const asPgtune = "PGTUNE_TEST_AS_PGTUNE"

func TestMain(m *testing.M) {
	if a, ok := os.LookupEnv(asPgtune); ok {
		// As cmd/pgtune's main: SIGINT and SIGTERM cancel the run.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Run(ctx, strings.Split(a, "\x1f"), os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	// Goldens are whole lines: a COLUMNS exported by the developer's shell must not fit them.
	os.Unsetenv("COLUMNS")
	pgtest.Main(m)
}

// startPgtune runs pgtune as a child process (the test binary in that role), to be killed.
func startPgtune(t *testing.T, stdout, stderr io.Writer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), asPgtune+"="+strings.Join(args, "\x1f"))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t testing.TB, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(t.Context(), args, strings.NewReader(""), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func TestUsage(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{nil, ExitUsage, "", "Commands:"},
		{[]string{"help"}, ExitOK, "check", ""},
		{[]string{"help", "connection"}, ExitOK, "DATABASE_URL", ""},
		{[]string{"help", "check"}, ExitOK, "-fail-on", ""},
		{[]string{"help", "demo"}, ExitOK, "pgtune demo load", ""},
		{[]string{"help"}, ExitOK, "advise", ""},
		{[]string{"help", "advise"}, ExitOK, "-snapshot", ""},
		{[]string{"help", "snapshot"}, ExitOK, "-no-values", ""},
		{[]string{"advise", "--format", "yaml", "--demo"}, ExitUsage, "", "want table, markdown, json or html"},
		{[]string{"advise", "--fail-on", "often", "--demo"}, ExitUsage, "", "unknown --fail-on level"},
		{[]string{"check", "-h"}, ExitOK, "-dsn", ""},
		{[]string{"demo", "load", "-h"}, ExitOK, "-scale", ""},
		{[]string{"version"}, ExitOK, "pgtune ", ""},
		{[]string{"--version"}, ExitOK, "pgtune ", ""},
		{[]string{"frobnicate"}, ExitUsage, "", "unknown command \"frobnicate\""},
		{[]string{"help", "frobnicate"}, ExitUsage, "", "no help for"},
		{[]string{"check", "--no-such-flag"}, ExitUsage, "", "flag provided but not defined"},
		{[]string{"check", "--format", "yaml"}, ExitUsage, "", "want table, markdown or json"},
		{[]string{"check", "--fail-on", "sometimes"}, ExitUsage, "", "unknown --fail-on level"},
		{[]string{"check", "--log-level", "loud"}, ExitUsage, "", "unknown --log-level"},
		{[]string{"check", "extra"}, ExitUsage, "", "unexpected argument"},
		{[]string{"demo"}, ExitUsage, "", "missing subcommand"},
		{[]string{"demo", "fly"}, ExitUsage, "", "unknown subcommand"},
		{[]string{"demo", "load", "--scale", "0"}, ExitUsage, "", "scale factor 0 out of range"},
		{[]string{"demo", "load", "--reference", "June"}, ExitUsage, "", "not a date"},
		{[]string{"demo", "run", "--actions", "0"}, ExitUsage, "", "--actions must be at least 1"},
		{[]string{"check", "--dsn", "postgres://u:s3cretpw@h:notaport/d"}, ExitUsage, "", "invalid port"},
	}
	for _, c := range cases {
		r := run(t, c.args...)
		if r.code != c.code || !strings.Contains(r.stdout, c.inStdout) || !strings.Contains(r.stderr, c.inStderr) {
			t.Errorf("pgtune %q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				c.args, r.code, r.stdout, r.stderr, c.code, c.inStdout, c.inStderr)
		}
		if c.code != ExitOK && strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 && c.args != nil {
			t.Errorf("pgtune %q: error is not one line: %q", c.args, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, "s3cretpw") {
			t.Errorf("pgtune %q printed the password", c.args)
		}
	}
}

func TestCouldNotConnect(t *testing.T) {
	t.Setenv("PGCONNECT_TIMEOUT", "2")
	r := run(t, "check", "--dsn", "postgres://app:s3cretpw@127.0.0.1:1/booking?sslmode=disable")
	if r.code != ExitFailed || !strings.Contains(r.stderr, "cannot connect to app@127.0.0.1:1/booking") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "s3cretpw") {
		t.Errorf("password printed: %q", r.stderr)
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, x, y)
		}
	}
	return ""
}

type checkDoc struct {
	SchemaVersion int    `json:"schema_version"`
	Command       string `json:"command"`
	Result        struct {
		Server struct {
			ServerVersionNum int `json:"server_version_num"`
		} `json:"server"`
		Checks []struct {
			Name string `json:"name"`
			OK   bool   `json:"ok"`
		} `json:"checks"`
		Findings []struct {
			Rule     string `json:"rule"`
			Severity string `json:"severity"`
			SQL      string `json:"sql"`
		} `json:"findings"`
	} `json:"result"`
}

func decodeCheck(t *testing.T, out string) checkDoc {
	t.Helper()
	var d checkDoc
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("check --format json is not JSON: %v\n%s", err, out)
	}
	if d.SchemaVersion != report.SchemaVersion || d.Command != "check" {
		t.Errorf("envelope: %+v", d)
	}
	return d
}

func rules(d checkDoc) []string {
	var out []string
	for _, f := range d.Result.Findings {
		out = append(out, f.Rule)
	}
	return out
}

func TestCheckReadyDatabase(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements", "hypopg"))
		r := run(t, "check", "--dsn", db.DSN, "--format", "json", "--fail-on", "info")
		if r.code != ExitOK {
			t.Fatalf("exit %d on a ready database; stderr %q; stdout %s", r.code, r.stderr, r.stdout)
		}
		d := decodeCheck(t, r.stdout)
		// 13 has no compute_query_id to check (its pg_stat_statements computes query IDs itself).
		want := 9
		if pgtest.MajorOf(t) == 13 {
			want = 8
		}
		if len(d.Result.Findings) != 0 || len(d.Result.Checks) < want || d.Result.Server.ServerVersionNum < 130000 {
			t.Errorf("ready database: %+v", d.Result)
		}
	})
}

func TestCheckFailOn(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t) // no extensions created
		r := run(t, "check", "--dsn", db.DSN, "--format", "json")
		if r.code != ExitOK {
			t.Fatalf("default --fail-on none: exit %d (%s)", r.code, r.stderr)
		}
		got := strings.Join(rules(decodeCheck(t, r.stdout)), ",")
		for _, want := range []string{"check.pg_stat_statements.not_created", "check.hypopg.not_created"} {
			if !strings.Contains(got, want) {
				t.Errorf("findings %s lack %s", got, want)
			}
		}
		if r := run(t, "check", "--dsn", db.DSN, "--fail-on", "high"); r.code != ExitFindings {
			t.Errorf("--fail-on high with a high finding: exit %d", r.code)
		}
		if r := run(t, "check", "--dsn", db.DSN, "--fail-on", "critical"); r.code != ExitOK {
			t.Errorf("--fail-on critical without critical findings: exit %d", r.code)
		}
		r = run(t, "check", "--dsn", db.DSN, "--format", "markdown")
		if r.code != ExitOK || !strings.Contains(r.stdout, "| CREATE EXTENSION pg_stat_statements; |") {
			t.Errorf("markdown: exit %d\n%s", r.code, r.stdout)
		}
	})
}

// A monitoring user without pg_read_all_stats: the check says so, and the password given in the
// connection string appears nowhere, not even in debug logs.
func TestCheckUnprivilegedUserNeverPrintsPassword(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
		admin := db.Connect(t)
		role := "monitor_" + db.Name
		const password = "Tr0ub4dor&3-not-for-logs"
		if _, err := admin.Exec(t.Context(), fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, password)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c, err := pgx.Connect(context.Background(), db.Server.AdminDSN)
			if err == nil {
				c.Exec(context.Background(), "DROP ROLE IF EXISTS "+role)
				c.Close(context.Background())
			}
		})
		cfg, _ := pgx.ParseConfig(db.DSN)
		dsn := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", role, "Tr0ub4dor%263-not-for-logs", cfg.Host, cfg.Port, db.Name)
		r := run(t, "check", "--dsn", dsn, "--format", "json", "--log-level", "debug", "--log-format", "json")
		if r.code != ExitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if !strings.Contains(strings.Join(rules(decodeCheck(t, r.stdout)), ","), "check.privileges.read_all_stats") {
			t.Errorf("no privilege finding for %s: %s", role, r.stdout)
		}
		if !strings.Contains(r.stderr, "connection settings") {
			t.Errorf("debug log missing: %q", r.stderr)
		}
		for _, leak := range []string{password, "Tr0ub4dor%263"} {
			if strings.Contains(r.stdout+r.stderr, leak) {
				t.Errorf("password %q printed:\nstdout %s\nstderr %s", leak, r.stdout, r.stderr)
			}
		}
	})
}

// Connection precedence: --dsn, else DATABASE_URL, else PG* variables.
func TestConnectionPrecedence(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t)
		cfg, err := pgx.ParseConfig(db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		checkDB := func(want string, args ...string) {
			t.Helper()
			r := run(t, append([]string{"check", "--format", "json"}, args...)...)
			if r.code != ExitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stdout, `"database": "`+want+`"`) {
				t.Errorf("connected to the wrong database; want %s:\n%s", want, r.stdout)
			}
		}
		t.Setenv("PGHOST", cfg.Host)
		t.Setenv("PGPORT", fmt.Sprint(cfg.Port))
		t.Setenv("PGUSER", cfg.User)
		t.Setenv("PGSSLMODE", "disable")
		t.Setenv("PGDATABASE", db.Name)
		t.Setenv("DATABASE_URL", "")
		checkDB(db.Name) // PG* alone

		t.Setenv("PGDATABASE", "no_such_database")
		t.Setenv("DATABASE_URL", db.DSN)
		checkDB(db.Name) // DATABASE_URL wins over PG*

		t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/nowhere")
		checkDB(db.Name, "--dsn", db.DSN) // --dsn wins over DATABASE_URL
	})
}

func TestDemoLoadAndRun(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t, pgtest.WithExtensions("pg_stat_statements"))
		r := run(t, "demo", "load", "--dsn", db.DSN, "--scale", "0.02", "--format", "json")
		if r.code != ExitOK {
			t.Fatalf("demo load: exit %d: %s", r.code, r.stderr)
		}
		var load struct {
			Result struct {
				Rows   int64 `json:"rows"`
				Tables []struct {
					Table string `json:"table"`
					Rows  int64  `json:"rows"`
				} `json:"tables"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &load); err != nil || load.Result.Rows == 0 || len(load.Result.Tables) != 14 {
			t.Fatalf("demo load output: %v\n%s", err, r.stdout)
		}

		r = run(t, "demo", "load", "--dsn", db.DSN, "--scale", "0.02")
		if r.code != ExitFailed || !strings.Contains(r.stderr, "--replace") {
			t.Errorf("second load: exit %d, stderr %q", r.code, r.stderr)
		}

		r = run(t, "demo", "run", "--dsn", db.DSN, "--actions", "400", "--clients", "2")
		if r.code != ExitOK || !strings.Contains(r.stdout, "0 errors") {
			t.Errorf("demo run: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
		}

		empty := pgtest.New(t)
		r = run(t, "demo", "run", "--dsn", empty.DSN, "--actions", "10")
		if r.code != ExitFailed || !strings.Contains(r.stderr, "pgtune demo load") {
			t.Errorf("run on empty database: exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

// A flag after the arguments is named as such (Go's flag parsing would take it for a file).
func TestFlagAfterArguments(t *testing.T) {
	dir := t.TempDir()
	r := run(t, "migrate", "lint", dir, "--dsn", "postgres://x@localhost/db")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--dsn comes after the arguments: flags go before them") || strings.Contains(r.stderr, "no such file") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	// An argument that only looks like a flag (no such flag) is still a file name.
	r = run(t, "migrate", "lint", dir, "-not-a-flag.sql")
	if strings.Contains(r.stderr, "comes after the arguments") {
		t.Errorf("a file named like a flag: %s", r.stderr)
	}
}

// When the demo cannot run, the first line on stderr is the error, not a log of what it meant
// to do.
func TestDemoErrorComesFirst(t *testing.T) {
	for _, cmd := range [][]string{{"demo", "load"}, {"demo", "run"}} {
		r := run(t, append(cmd, "--dsn", "postgres://app@127.0.0.1:1/booking?connect_timeout=2")...)
		first, _, _ := strings.Cut(r.stderr, "\n")
		if r.code != ExitFailed || !strings.HasPrefix(first, "pgtune: ") || !strings.Contains(first, "cannot connect") {
			t.Errorf("%v: exit %d, first stderr line %q", cmd, r.code, first)
		}
	}
	// A server that answers but holds no booking data: the run has connected (and used to log
	// that it started) before it fails.
	pgtest.EachMajor(t, func(t *testing.T) {
		db := pgtest.New(t)
		r := run(t, "demo", "run", "--dsn", db.DSN, "--actions", "10")
		first, _, _ := strings.Cut(r.stderr, "\n")
		if r.code != ExitFailed || !strings.HasPrefix(first, "pgtune: ") || !strings.Contains(first, "no booking data") {
			t.Errorf("demo run on an empty database: exit %d, first stderr line %q", r.code, first)
		}
	}, pgtest.Since(18))
}

// With --log-format json the final error is a JSON record too, with the exit code: a log
// collector reading stderr as JSON lines never meets a plain-text line.
func TestJSONLogFormatError(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(bad, []byte("[1]"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, "advise", "--snapshot", bad, "--log-format", "json")
	var rec struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
		Exit  int    `json:"exit"`
	}
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("stderr line is not JSON: %q", line)
		}
	}
	if r.code != ExitFailed || rec.Level != "ERROR" || rec.Exit != ExitFailed || !strings.Contains(rec.Msg, "not a usable pgtune snapshot") {
		t.Errorf("exit %d, last record %+v", r.code, rec)
	}
}
