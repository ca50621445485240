package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPgbouncerGolden(t *testing.T) {
	r := run(t, "pgbouncer", "--memory", "16GB", "--cpus", "8", "--database", "booking", "--app-instances", "20",
		"--app-pool-size", "25", "--pooler-processes", "2", "--pg-version", "17")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	// The ini itself is the case testdata/cli/pgbouncer_16gb.

	// The same flags give config the same budget.
	c := run(t, "config", "--pooler", "--memory", "16GB", "--cpus", "8", "--app-instances", "20", "--app-pool-size", "25",
		"--pooler-processes", "2", "--pg-version", "17")
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, ";; Connection budget") || strings.HasPrefix(line, ";;   PgBouncer pools") {
			if !strings.Contains(c.stdout, "# "+strings.TrimPrefix(line, ";; ")) {
				t.Errorf("config does not print pgbouncer's budget line %q", line)
			}
		}
	}
}

// With replica hosts the ini has a read pool beside the write pool, and config with --replicas
// and the same flags prints the same budget for both nodes.
func TestPgbouncerReplicasGolden(t *testing.T) {
	flags := []string{"--memory", "16GB", "--cpus", "8", "--app-instances", "20", "--app-pool-size", "25", "--pg-version", "17"}
	r := run(t, append([]string{"pgbouncer", "--database", "booking", "--server-host", "primary.internal",
		"--replica-hosts", "replica1.internal,replica2.internal", "--pgbouncer-version", "1.24"}, flags...)...)
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	// The ini itself is the case testdata/cli/pgbouncer_replicas.
	c := run(t, append([]string{"config", "--pooler", "--replicas", "2"}, flags...)...)
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, ";; Connection budget") || strings.HasPrefix(line, ";; Each of the 2 replicas") || strings.HasPrefix(line, ";;   application reads") || strings.HasPrefix(line, ";;   PgBouncer read pool") {
			if !strings.Contains(c.stdout, "# "+strings.TrimPrefix(line, ";; ")) {
				t.Errorf("config does not print pgbouncer's budget line %q", line)
			}
		}
	}
	// The replica count and the hosts must agree.
	if r := run(t, append([]string{"pgbouncer", "--database", "booking", "--replicas", "3", "--replica-hosts", "r1,r2"}, flags...)...); r.code != ExitUsage || !strings.Contains(r.stderr, "--replica-hosts") {
		t.Errorf("--replicas 3 with two hosts: exit %d: %s", r.code, r.stderr)
	}
}

func TestPgbouncerOutDir(t *testing.T) {
	dir := t.TempDir()
	r := run(t, "pgbouncer", "--memory", "8GB", "--cpus", "4", "--database", "booking,reports", "--pooler-processes", "2", "--out-dir", dir)
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, name := range []string{"pgbouncer.ini", "pgbouncer-1.ini", "pgbouncer-2.ini", "auth_setup.sql"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s not written: %v", name, err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("%d files in the directory, want exactly 4 (no temporary leftovers)", len(entries))
	}
	if !strings.Contains(r.stdout, "auth_setup.sql") {
		t.Errorf("the summary does not list the files: %s", r.stdout)
	}
}

func TestPgbouncerBadInput(t *testing.T) {
	base := []string{"pgbouncer", "--memory", "8GB", "--cpus", "4"}
	cases := []struct {
		args []string
		msg  string
	}{
		{nil, "--database is required"},
		{[]string{"--database", "booking", "--pooler=false"}, "--pooler=false contradicts"},
		{[]string{"--database", "booking", "--pgbouncer-version", "2.0"}, "want 1.12 or newer"},
		{[]string{"--database", "booking", "--pool-mode", "statement"}, "pool mode \"statement\""},
		{[]string{"--database", "booking", "--app-timeout", "1s"}, "at least 2s"},
		{[]string{"--database", "booking", "--pooler-processes", "4", "--pgbouncer-version", "1.18"}, "1.19"},
		{[]string{"--database", "my db"}, "without spaces"},
		{[]string{"--database", "booking", "--out-dir", "/nonexistent/dir"}, "is not a directory"},
		{[]string{"--database", "booking", "--format", "yaml"}, "unknown --format"},
	}
	for _, c := range cases {
		r := run(t, append(append([]string{}, base...), c.args...)...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, c.msg) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %d bytes; want exit 2 naming %q", c.args, r.code, r.stderr, len(r.stdout), c.msg)
		}
	}
}
