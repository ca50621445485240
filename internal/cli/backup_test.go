package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// The drill end to end through the CLI: sentinels from `pgtune backup sentinel`, a base backup,
// more sentinels, then `pgtune backup verify` to a time between two of them.
func TestBackupVerifyCLI(t *testing.T) {
	pgtest.EachMajorWithBinaries(t, func(t *testing.T) {
		shared, err := os.MkdirTemp("", "pgtune-backup-cli-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(shared)
		os.Chmod(shared, 0o777)
		archive := filepath.Join(shared, "archive")
		os.Mkdir(archive, 0o777)
		os.Chmod(archive, 0o777)
		srv := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Local: true, InitDBArgs: []string{"--wal-segsize=1"},
			Conf: "archive_mode = on\narchive_command = 'test ! -f " + archive + "/%f && cp %p " + archive + "/%f'\n"})
		ctx := t.Context()
		sentinel := func() {
			t.Helper()
			if r := run(t, "backup", "sentinel", "--dsn", srv.AdminDSN, "--switch-wal", "--format", "json"); r.code != ExitOK || !strings.Contains(r.stdout, `"counter"`) {
				t.Fatalf("sentinel: exit %d %s %s", r.code, r.stderr, r.stdout)
			}
		}
		sentinel()
		backup := filepath.Join(shared, "base")
		if out, err := srv.Exec(ctx, "pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(srv.ServerPort), "-U", "postgres", "-D", backup, "-F", "t", "-X", "fetch", "-c", "fast"); err != nil {
			t.Fatalf("pg_basebackup: %v\n%s", err, out)
		}
		time.Sleep(1100 * time.Millisecond)
		sentinel()
		time.Sleep(20 * time.Millisecond)
		target := time.Now().UTC()
		time.Sleep(20 * time.Millisecond)
		sentinel()
		sentinel()
		conn, err := pgx.Connect(ctx, srv.AdminDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		time.Sleep(time.Second) // the archiver

		r := run(t, "backup", "verify", "--base-backup", backup, "--wal-archive", archive, "--target-time", target.Format(time.RFC3339Nano),
			"--pg-bin", srv.BinDir(), "--sentinel-dsn", srv.AdminDSN, "--max-age", "1h", "--amcheck",
			"--check", "SELECT count(*) = 2 FROM pgtune_sentinel.heartbeat")
		if r.code != ExitOK {
			t.Fatalf("verify a tar backup: exit %d\n%s\n%s", r.code, r.stderr, r.stdout)
		}
		for _, want := range []string{"pre-flight", "restore", "recover", "assert", "pg_amcheck", "Every step passed", "Data-loss window"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("the report lacks %q:\n%s", want, r.stdout)
			}
		}
		// The report attached to the drill's ticket: the steps on a timeline, the recovery point drawn.
		r = run(t, "backup", "verify", "--base-backup", backup, "--wal-archive", archive, "--target-time", target.Format(time.RFC3339Nano),
			"--pg-bin", srv.BinDir(), "--format", "html")
		if r.code != ExitOK {
			t.Fatalf("verify --format html: exit %d\n%s", r.code, r.stderr)
		}
		for _, want := range []string{"Restore drill of ", `class="card ok"`, `aria-label="timeline"`, "Recovery point", "data-loss window", "last commit replayed"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("the drill's report lacks %q", want)
			}
		}
		checkSelfContained(t, r.stdout)
		// The image this runs in may have no browser: the page goes to the host's (below).
		pgtest.Hand(t, fmt.Sprintf("backup-verify-%d", srv.Major), []byte(r.stdout))

		// The backup is older than a too-strict objective: exit 1, the report says which step.
		r = run(t, "backup", "verify", "--base-backup", backup, "--wal-archive", archive, "--target", "latest", "--pg-bin", srv.BinDir(), "--max-age", "1ms", "--format", "json")
		if r.code != ExitFindings || !strings.Contains(r.stderr, "the pre-flight step failed") || !strings.Contains(r.stdout, `"failed": "pre-flight"`) {
			t.Errorf("--max-age 1ms: exit %d, %s\n%s", r.code, r.stderr, r.stdout)
		}
	})
	// Each major's drill report, rendered in this machine's browser.
	pages := pgtest.Handed(t)
	if len(pages) == 0 && !t.Failed() && !pgtest.InImage() {
		t.Error("no drill report was handed out")
	}
	for name, page := range pages {
		renderHTML(t, name, string(page), 1100, 1200, false)
	}
}

func TestBackupBadInput(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "") // the credentials' absence is one of the cases
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"verify"}, "--base-backup DIR and --wal-archive DIR are required"},
		{[]string{"verify", "--pgbackrest", "main", "--base-backup", "b"}, "drop --base-backup and --wal-archive"},
		{[]string{"verify", "--base-backup", "b", "--wal-archive", "w"}, "give --target-time T or --target latest"},
		{[]string{"verify", "--base-backup", "b", "--wal-archive", "w", "--target-time", "yesterday"}, "want a time with its zone"},
		{[]string{"verify", "--base-backup", "b", "--wal-archive", "w", "--target", "soon"}, "only latest"},
		{[]string{"restore"}, "unknown subcommand"},
		{[]string{"verify", "--barman-cloud", "s3://backups/booking", "--target", "latest"}, "--barman-cloud needs --server-name NAME"},
		{[]string{"verify", "--barman-cloud", "s3://backups/booking", "--server-name", "db", "--wal-archive", "w"}, "drop --base-backup, --wal-archive"},
		{[]string{"verify", "--barman-cloud", "s3://backups/booking", "--server-name", "db", "--target", "latest"}, "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (not on the command line)"},
		{[]string{"verify", "--barman-cloud", "https://backups/booking", "--server-name", "db", "--target", "latest"}, "--barman-cloud \"https://backups/booking\": want s3://BUCKET[/PREFIX]"},
		{[]string{"verify", "--barman-cloud", "s3://backups/booking", "--server-name", "a/b", "--target", "latest"}, "--server-name \"a/b\": want the name"},
		{[]string{"verify", "--barman-cloud", "s3://backups/booking", "--server-name", "db", "--endpoint-url", "s3.internal", "--target", "latest"}, "--endpoint-url \"s3.internal\": want https://HOST[:PORT]"},
		{[]string{"verify", "--base-backup", "b", "--wal-archive", "w", "--server-name", "db", "--target", "latest"}, "--server-name and --endpoint-url go with --barman-cloud"},
		{[]string{"verify", "--barman-cloud", "s3://backups/booking", "--server-name", "db", "--endpoint-url", "https://AKIA:s3cretkey@s3.internal", "--target", "latest"}, "never in the URL"},
		{[]string{"verify", "--base-backup", "b", "--wal-archive", "w", "--target", "latest", "--os-user", "no_such_os_user_x"}, "--os-user no_such_os_user_x"},
		{[]string{"verify", "--base-backup", "b", "--wal-archive", "w", "--target", "latest", "--os-user", "root"}, "--os-user"},
	}
	for _, c := range cases {
		r := run(t, append([]string{"backup"}, c.args...)...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v: exit %d, %q; want exit 2 naming %q", c.args, r.code, r.stderr, c.msg)
		}
	}
	if r := run(t, "backup", "verify", "--barman-cloud", "s3://b/p", "--server-name", "db", "--endpoint-url", "https://AKIA:s3cretkey@s3.internal", "--target", "latest"); strings.Contains(r.stderr, "s3cretkey") {
		t.Errorf("a secret in --endpoint-url was echoed: %s", r.stderr)
	}
	// A directory that is not a backup: the drill fails at pre-flight, exit 1, one clear line.
	r := run(t, "backup", "verify", "--base-backup", t.TempDir(), "--wal-archive", t.TempDir(), "--target", "latest")
	if r.code != ExitFindings || !strings.Contains(r.stderr, "is not a base backup") {
		t.Errorf("not a backup: exit %d, %q", r.code, r.stderr)
	}
}

// backup verify --barman-cloud through the CLI: credentials and the CA from the environment,
// the endpoint from its flag, a real store (SeaweedFS) a server archives to with
// barman-cloud-wal-archive; the JSON says how far behind the newest archived WAL is, the HTML
// report draws it, and the secret is in neither.
func TestBackupVerifyBarmanCloudCLI(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		pgtest.Program(t, "barman-cloud-backup", "barman-cli-cloud")
		store := pgtest.NewS3(t, "barman")
		for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": store.AccessKey, "AWS_SECRET_ACCESS_KEY": store.SecretKey,
			"AWS_DEFAULT_REGION": store.Region, "AWS_CA_BUNDLE": store.CAFile} {
			t.Setenv(k, v)
		}
		tool := "--cloud-provider aws-s3 --endpoint-url " + store.Endpoint + " s3://barman/booking db"
		srv := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Local: true, InitDBArgs: []string{"--wal-segsize=1"},
			Conf: "archive_mode = on\narchive_command = 'barman-cloud-wal-archive " + tool + " %p'\n"})
		ctx := t.Context()
		if out, err := srv.Exec(ctx, append([]string{"barman-cloud-backup", "-h", "127.0.0.1", "-p", strconv.Itoa(srv.ServerPort), "-U", "postgres"}, strings.Fields(tool)...)...); err != nil {
			t.Fatalf("barman-cloud-backup: %v\n%s", err, out)
		}
		if r := run(t, "backup", "sentinel", "--dsn", srv.AdminDSN, "--switch-wal"); r.code != ExitOK {
			t.Fatalf("sentinel: %s", r.stderr)
		}
		time.Sleep(2 * time.Second) // the archiver
		args := []string{"backup", "verify", "--barman-cloud", "s3://barman/booking", "--server-name", "db", "--endpoint-url", store.Endpoint,
			"--target", "latest", "--pg-bin", srv.BinDir(), "--check", "SELECT count(*) = 1 FROM pgtune_sentinel.heartbeat"}
		r := run(t, append(args, "--format", "json")...)
		var doc struct {
			Result struct {
				Passed     bool   `json:"passed"`
				Backup     string `json:"backup"`
				NewestWAL  string `json:"newest_wal"`
				ArchiveLag int64  `json:"archive_lag_ns"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != ExitOK || !doc.Result.Passed ||
			doc.Result.Backup != "barman-cloud:s3://barman/booking/db" || doc.Result.NewestWAL == "" || doc.Result.ArchiveLag <= 0 || doc.Result.ArchiveLag > int64(time.Minute) {
			t.Fatalf("verify --barman-cloud: exit %d %v %+v\n%s\n%s", r.code, err, doc.Result, r.stderr, r.stdout)
		}
		html := run(t, append(args, "--format", "html")...)
		for _, out := range []string{r.stdout, r.stderr, html.stdout, html.stderr} {
			if strings.Contains(out, store.SecretKey) {
				t.Errorf("the secret key is in the output:\n%s", out)
			}
		}
		if !strings.Contains(html.stdout, "newest archived WAL") {
			t.Errorf("the report lacks the archiving lag")
		}
		renderHTML(t, "backup-verify-barman", html.stdout, 1100, 1200, false)
	}, pgtest.LocalBinaries())
}
