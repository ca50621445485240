package pitr

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// An incremental chain (17+): a full backup and two increments, each taken against the one before
// (WAL summaries on), restored to a point after the newest with pg_combinebackup and proved with
// the live sentinel rows; and the chain faults, each named where it is found: an increment
// missing, increments out of order, an increment given as the full backup, an increment file
// damaged.
func TestDrillIncremental(t *testing.T) {
	pgtest.EachMajorWithBinaries(t, func(t *testing.T) {
		shared := sharedDir(t)
		archive := filepath.Join(shared, "archive")
		if err := os.Mkdir(archive, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(archive, 0o777)
		srv := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Local: true, InitDBArgs: []string{"--wal-segsize=1"},
			Conf: "archive_mode = on\narchive_command = 'test ! -f " + archive + "/%f && cp %p " + archive + "/%f'\nwal_level = replica\nsummarize_wal = on\n"})
		ctx := t.Context()
		conn, err := pgx.Connect(ctx, srv.AdminDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		backup := func(name string, args ...string) string {
			t.Helper()
			dir := filepath.Join(shared, name)
			argv := append([]string{"pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(srv.ServerPort), "-U", "postgres", "-D", dir, "-X", "none", "-c", "fast"}, args...)
			if out, err := srv.Exec(ctx, argv...); err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
			}
			return dir
		}
		exec := func(sql string) {
			t.Helper()
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		exec("CREATE TABLE payments (id int PRIMARY KEY, cents int); INSERT INTO payments SELECT g, g FROM generate_series(1, 10000) g")
		full := backup("full")
		exec("UPDATE payments SET cents = cents + 1 WHERE id % 10 = 0")
		exec("CREATE TABLE refunds AS SELECT g AS id FROM generate_series(1, 500) g")
		inc1 := backup("inc1", "--incremental", filepath.Join(full, "backup_manifest"))
		exec("UPDATE payments SET cents = cents + 1 WHERE id % 10 = 1")
		inc2 := backup("inc2", "--incremental", filepath.Join(inc1, "backup_manifest"))
		time.Sleep(1100 * time.Millisecond) // the manifest's time, to the second, is the backup's end
		if _, err := WriteSentinel(ctx, conn, "just before the target", true); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		target := time.Now().UTC()
		time.Sleep(20 * time.Millisecond)
		if _, err := WriteSentinel(ctx, conn, "just after the target", true); err != nil {
			t.Fatal(err)
		}
		exec("SELECT pg_switch_wal()")
		waitArchived(t, conn)
		for _, d := range []string{full, inc1, inc2} { // the scratch server's user reads them
			readableByAll(d)
		}
		opts := func(base string, incs ...string) Options {
			return Options{BaseBackup: base, Increments: incs, WALArchive: archive, Target: target, BinDir: srv.BinDir(), SentinelDSN: srv.AdminDSN,
				Checks: []string{"SELECT count(*) = 10000 AND sum(cents) = 50005000 + 2000 FROM payments", "SELECT count(*) = 500 FROM refunds"}}
		}

		r, err := Drill(ctx, opts(full, inc1, inc2))
		if err != nil || !r.Passed {
			t.Fatalf("the chain: %v, failed at %q: %+v", err, r.Failed, r.Steps)
		}
		if !strings.Contains(r.Steps[0].Detail, "2 increments") || !strings.Contains(r.Steps[1].Detail, "pg_combinebackup") {
			t.Errorf("the steps do not say a chain was combined: %+v", r.Steps)
		}
		checkCleanedUp(t, r)

		damaged := copyDir(t, inc2)
		if err := damageRelationFile(damaged); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name       string
			o          Options
			step, want string
		}{
			{"an increment missing", opts(full, inc2), "pre-flight", "the chain is broken at " + inc2},
			{"increments out of order", opts(full, inc2, inc1), "pre-flight", "an increment is missing or out of order"},
			{"an increment as the full backup", opts(inc1, inc2), "pre-flight", "is itself an incremental backup"},
			{"an increment damaged", opts(full, inc1, damaged), "restore", "checksum mismatch for file"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r, err := Drill(ctx, c.o)
				if err != nil {
					t.Fatal(err)
				}
				detail := ""
				for _, s := range r.Steps {
					if !s.Passed {
						detail = s.Detail
					}
				}
				if r.Passed || r.Failed != c.step || !strings.Contains(detail, c.want) {
					t.Errorf("want a failure at %s naming %q; got passed=%v at %q: %s", c.step, c.want, r.Passed, r.Failed, detail)
				}
				t.Logf("%s: %s", r.Failed, detail)
				checkCleanedUp(t, r)
			})
		}
	}, pgtest.Since(17))
}

// damageRelationFile overwrites bytes in the middle of the largest relation file of a backup
// copy (whole or incremental), keeping its size.
func damageRelationFile(dir string) error {
	var biggest string
	var size int64
	filepath.Walk(filepath.Join(dir, "base"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && info.Size() > size {
			biggest, size = p, info.Size()
		}
		return nil
	})
	f, err := os.OpenFile(biggest, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt([]byte(strings.Repeat("\xde\xad", 64)), size/2)
	return err
}
