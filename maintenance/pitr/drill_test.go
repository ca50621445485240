package pitr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// fixture is a source server archiving into a test archive, a plain base backup taken with
// pg_basebackup (WAL from the archive only), and heartbeats written before and after a target.
type fixture struct {
	srv     *pgtest.Dedicated
	archive string
	backup  string
	target  time.Time
	before  Heartbeat // the last heartbeat before the target
	after   Heartbeat // the first after it
	// damaged is what the page-damage fault expects the drill to name.
	damaged string
	// afterSegment is the WAL segment holding the first heartbeat after the target.
	afterSegment string
	// ended is the backup's end as the drill reads it (its history file's STOP TIME); start its
	// start (the redo point).
	ended time.Time
	start LSN
}

func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgtune-pitr-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil { // the server's unprivileged user writes here
		t.Fatal(err)
	}
	return dir
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	shared := sharedDir(t)
	archive := filepath.Join(shared, "archive")
	if err := os.Mkdir(archive, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(archive, 0o777); err != nil {
		t.Fatal(err)
	}
	srv := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Local: true, InitDBArgs: []string{"--wal-segsize=1"},
		Conf: "archive_mode = on\narchive_command = 'test ! -f " + archive + "/%f && cp %p " + archive + "/%f'\nwal_level = replica\n"})
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, srv.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	f := &fixture{srv: srv, archive: archive, backup: filepath.Join(shared, "base")}
	if _, err := conn.Exec(ctx, "CREATE TABLE payments (id int PRIMARY KEY, cents int); INSERT INTO payments SELECT g, g FROM generate_series(1, 10000) g"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := WriteSentinel(ctx, conn, "before the backup", true); err != nil {
			t.Fatal(err)
		}
	}
	// A segment of WAL just before the backup's (the page-damage fault writes into it).
	if _, err := conn.Exec(ctx, "SELECT pg_switch_wal(); CREATE TABLE filler AS SELECT g, md5(g::text) FROM generate_series(1, 3000) g"); err != nil {
		t.Fatal(err)
	}
	if out, err := srv.Exec(ctx, "pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(srv.ServerPort), "-U", "postgres",
		"-D", f.backup, "-X", "none", "-c", "fast"); err != nil {
		t.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	b, err := InspectBackup(f.backup)
	if err != nil {
		t.Fatalf("read the backup: %v", err)
	}
	f.start = b.StartLSN
	time.Sleep(1100 * time.Millisecond) // the history file's STOP TIME, to the second, is the backup's end
	if f.before, err = WriteSentinel(ctx, conn, "just before the target", true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	f.target = time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	if f.after, err = WriteSentinel(ctx, conn, "just after the target", false); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_walfile_name(pg_current_wal_lsn())").Scan(&f.afterSegment); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_switch_wal()"); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteSentinel(ctx, conn, "later", true); err != nil {
		t.Fatal(err)
	}
	waitArchived(t, conn)
	a, err := ReadArchive(archive)
	if err != nil {
		t.Fatal(err)
	}
	stop, _, name, ok, err := a.BackupStop(b.StartTimeline, b.StartLSN)
	if err != nil || !ok {
		t.Fatalf("the backup's history file %s: ok %v, %v", name, ok, err)
	}
	f.ended = stop
	return f
}

// waitArchived waits (up to 20 s) until the archiver has copied the last switched segment.
func waitArchived(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var pending bool
		if err := conn.QueryRow(t.Context(), "SELECT last_archived_wal IS DISTINCT FROM pg_walfile_name(pg_current_wal_lsn() - 1) FROM pg_stat_archiver").Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if !pending || time.Now().After(deadline) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (f *fixture) options(t *testing.T) Options {
	return Options{BaseBackup: f.backup, WALArchive: f.archive, Target: f.target, BinDir: f.srv.BinDir(), Checks: []string{"SELECT count(*) = 10000 FROM payments"}}
}

// copyDir copies a directory for a test to damage.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(sharedDir(t), filepath.Base(src))
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(src, "backup_manifest")); err == nil {
		if err := os.WriteFile(filepath.Join(dst, "backup_manifest"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The scratch server's user reads the copy (restore_command runs as it).
	readableByAll(dst)
	return dst
}

func segments(t *testing.T, dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if len(e.Name()) == 24 {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

func checkCleanedUp(t *testing.T, r *Report) {
	t.Helper()
	if r == nil || r.Scratch == "" {
		return
	}
	if _, err := os.Stat(r.Scratch); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the scratch directory %s was left behind", r.Scratch)
	}
	// No postgres runs on the scratch data directory.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), r.Scratch) {
			t.Errorf("a process still runs on the scratch directory: %s", strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}

func TestDrill(t *testing.T) {
	pgtest.EachMajorWithBinaries(t, func(t *testing.T) {
		f := newFixture(t)
		ctx := t.Context()

		t.Run("a good backup reaches the target", func(t *testing.T) {
			o := f.options(t)
			o.SentinelDSN = f.srv.AdminDSN
			r, err := Drill(ctx, o)
			if err != nil || !r.Passed {
				t.Fatalf("drill failed: %v %+v", err, r)
			}
			if r.LastReplayed == nil || r.LastReplayed.After(f.target) || r.DataLoss <= 0 || r.DataLoss > 5*time.Second {
				t.Errorf("last replayed %v, data loss %v (target %v)", r.LastReplayed, r.DataLoss, f.target)
			}
			assertStep := r.Steps[len(r.Steps)-1]
			if !strings.Contains(assertStep.Detail, "sentinel: newest row "+strconv.FormatInt(f.before.Counter, 10)) ||
				!strings.Contains(assertStep.Detail, "row "+strconv.FormatInt(f.after.Counter, 10)+", written just after it, is absent") {
				t.Errorf("assert step: %s", assertStep.Detail)
			}
			checkCleanedUp(t, r)
		})

		t.Run("file times and a missing history file do not matter", func(t *testing.T) {
			// A copy without -p gives the manifest a time after the target: the end still comes
			// from the backup's history file. Without that file the end is unknown, and said so.
			o := f.options(t)
			o.BaseBackup = copyDir(t, f.backup)
			later := time.Now().Add(time.Hour)
			os.Chtimes(filepath.Join(o.BaseBackup, "backup_manifest"), later, later)
			o.WALArchive = copyDir(t, f.archive)
			r, err := Drill(ctx, o)
			if err != nil || !r.Passed || !strings.Contains(r.Steps[0].Detail, "ended "+f.ended.Format(time.RFC3339)) {
				t.Fatalf("a manifest touched an hour later: %v %+v", err, r)
			}
			hist, _ := filepath.Glob(filepath.Join(o.WALArchive, "*.backup"))
			for _, h := range hist {
				os.Remove(h)
			}
			r, err = Drill(ctx, o)
			if err != nil || !r.Passed || !strings.Contains(r.Steps[0].Detail, "end time unknown") {
				t.Fatalf("no history file: %v %+v", err, r)
			}
			checkCleanedUp(t, r)
		})

		t.Run("an archive only its owner can read", func(t *testing.T) {
			// The database's own OS user (not postgres) wrote the archive, files 0600: run as
			// root, the drill runs the scratch server as that owner; told to run it as postgres,
			// pre-flight names the file it cannot read and --os-user.
			if os.Geteuid() != 0 {
				if os.Getenv("CI") == "true" {
					t.Fatal("CI runs as root: this case needs it")
				}
				t.Skip("needs root (it runs the scratch server as another OS user)")
			}
			owner := osUserForTest(t, "pgtune_wal")
			o := f.options(t)
			o.WALArchive = copyDir(t, f.archive)
			entries, _ := os.ReadDir(o.WALArchive)
			for _, e := range entries {
				p := filepath.Join(o.WALArchive, e.Name())
				os.Chown(p, owner.uid, owner.gid)
				os.Chmod(p, 0o600)
			}
			os.Chown(o.WALArchive, owner.uid, owner.gid)
			os.Chmod(o.WALArchive, 0o700)
			o.OSUser = "postgres"
			r, err := Drill(ctx, o)
			if err != nil || r.Passed || r.Failed != "pre-flight" || !strings.Contains(r.Steps[0].Detail, "cannot read") ||
				!strings.Contains(r.Steps[0].Detail, "--os-user") || !strings.Contains(r.Steps[0].Detail, "owned by pgtune_wal") {
				t.Fatalf("as postgres: %v %+v", err, r)
			}
			o.OSUser = ""
			r, err = Drill(ctx, o)
			if err != nil || !r.Passed || r.OSUser != "pgtune_wal" || !strings.Contains(r.Steps[0].Detail, "the WAL archive's owner") {
				t.Fatalf("as the archive's owner: %v %+v", err, r)
			}
			checkCleanedUp(t, r)
		})

		t.Run("latest", func(t *testing.T) {
			o := f.options(t)
			o.Target = time.Time{}
			r, err := Drill(ctx, o)
			if err != nil || !r.Passed || !strings.Contains(r.Steps[2].Detail, "end of the archive") {
				t.Fatalf("drill to latest: %v %+v", err, r)
			}
			checkCleanedUp(t, r)
		})

		faults := []struct {
			name   string
			damage func(t *testing.T, o *Options)
			step   string
			msg    string
		}{
			{"a WAL segment missing", func(t *testing.T, o *Options) {
				o.WALArchive = copyDir(t, f.archive)
				segs := segments(t, o.WALArchive)
				os.Remove(filepath.Join(o.WALArchive, segs[len(segs)-3]))
			}, "pre-flight", "is missing from the archive"},
			{"a corrupted WAL segment", func(t *testing.T, o *Options) {
				o.WALArchive = copyDir(t, f.archive)
				// The segment holding the first commit after the target: recovery cannot read past
				// the damage, so it never sees a commit after the target.
				name := filepath.Join(o.WALArchive, f.afterSegment)
				fh, err := os.OpenFile(name, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				// The records after the long page header (the header itself stays valid).
				junk := strings.Repeat("\xff", 4000)
				fh.WriteAt([]byte(junk), 64)
				fh.Close()
			}, "recover", "archive ends before the target"},
			{"a data file modified", func(t *testing.T, o *Options) {
				o.BaseBackup = copyDir(t, f.backup)
				var file string
				filepath.Walk(filepath.Join(o.BaseBackup, "base"), func(p string, info os.FileInfo, err error) error {
					if err == nil && !info.IsDir() && info.Size() > 8192 && file == "" {
						file = p
					}
					return nil
				})
				fh, _ := os.OpenFile(file, os.O_RDWR, 0)
				fh.WriteAt([]byte("tampered"), 100)
				fh.Close()
			}, "restore", "does not match its manifest"},
			{"the manifest missing", func(t *testing.T, o *Options) {
				o.BaseBackup = copyDir(t, f.backup)
				os.Remove(filepath.Join(o.BaseBackup, "backup_manifest"))
			}, "pre-flight", "no backup_manifest"},
			{"a target after the end of the archive", func(t *testing.T, o *Options) {
				o.Target = time.Now().Add(time.Hour)
			}, "recover", "archive ends before the target"},
			{"a target before the backup ended", func(t *testing.T, o *Options) {
				// Just before the end the drill reads: after the start (which the label gives to
				// the second, rounded down), however slowly the machine ran the fixture.
				o.Target = f.ended.Add(-time.Millisecond)
			}, "pre-flight", "before the backup"},
			{"a target before the backup ended, the manifest copied without -p an hour ago", func(t *testing.T, o *Options) {
				// The end comes from the backup's history file, not from any file's time.
				o.BaseBackup = copyDir(t, f.backup)
				old := time.Now().Add(-time.Hour)
				os.Chtimes(filepath.Join(o.BaseBackup, "backup_manifest"), old, old)
				o.Target = f.ended.Add(500 * time.Millisecond)
			}, "pre-flight", "before the backup ended"},
			{"a page damaged before the backup's redo point", func(t *testing.T, o *Options) {
				// The backup starts a new segment (pg_backup_start switches); the page is in the
				// segment before, which recovery to this target never reads but a restore of an
				// older backup does. Pre-flight checks every page of every archived segment.
				o.WALArchive = copyDir(t, f.archive)
				a, _ := ReadArchive(o.WALArchive)
				seg := Segment{1, uint64(f.start)/uint64(a.SegmentSize) - 1}
				fh, err := os.OpenFile(filepath.Join(o.WALArchive, seg.Name(a.SegmentSize)), os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				garbage := make([]byte, 8192)
				for i := range garbage {
					garbage[i] = byte(i*7 + 13)
				}
				fh.WriteAt(garbage, 8192)
				fh.Close()
				f.damaged = fmt.Sprintf("WAL segment %s is damaged at offset 8192", seg.Name(a.SegmentSize))
			}, "pre-flight", "is damaged at offset"},
			{"a foreign timeline", func(t *testing.T, o *Options) {
				o.WALArchive = copyDir(t, f.archive)
				segs := segments(t, o.WALArchive)
				os.WriteFile(filepath.Join(o.WALArchive, "00000002.history"), []byte("1\t0/100000\tanother cluster's failover, before the backup\n"), 0o644)
				in, _ := os.Open(filepath.Join(o.WALArchive, segs[len(segs)-1]))
				out, _ := os.Create(filepath.Join(o.WALArchive, "00000002"+segs[len(segs)-1][8:]))
				io.Copy(out, in)
				in.Close()
				out.Close()
			}, "pre-flight", "does not descend from the backup's timeline 1"},
		}
		for _, fault := range faults {
			t.Run(fault.name, func(t *testing.T) {
				o := f.options(t)
				fault.damage(t, &o)
				r, err := Drill(ctx, o)
				if err != nil {
					t.Fatal(err)
				}
				if r.Passed || r.Failed != fault.step || !strings.Contains(r.Steps[len(r.Steps)-1].Detail, fault.msg) {
					t.Errorf("want a failure at %s naming %q; got passed=%v failed=%q: %+v", fault.step, fault.msg, r.Passed, r.Failed, r.Steps)
				}
				if strings.Contains(fault.name, "page damaged") && !strings.Contains(r.Steps[len(r.Steps)-1].Detail, f.damaged) {
					t.Errorf("the damage is not named as %q: %s", f.damaged, r.Steps[len(r.Steps)-1].Detail)
				}
				checkCleanedUp(t, r)
			})
		}

		t.Run("a signal mid-recovery cleans up", func(t *testing.T) {
			dctx, cancel := context.WithCancel(ctx)
			testHookRecovering = cancel
			defer func() { testHookRecovering = nil }()
			r, err := Drill(dctx, f.options(t))
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err %v, want context.Canceled", err)
			}
			checkCleanedUp(t, r)
		})
	})
}

// TestDrillPgBackRest runs the drill with pgBackRest as the source: a stanza whose archive_command
// is pgbackrest archive-push, a full backup, heartbeats around the target.
func TestDrillPgBackRest(t *testing.T) {
	pgtest.EachMajorWithBinaries(t, func(t *testing.T) {
		bin := pgbackrestBinary(t)
		shared := sharedDir(t)
		conf := filepath.Join(shared, "pgbackrest.conf")
		for _, d := range []string{"repo", "log", "lock", "spool"} {
			os.Mkdir(filepath.Join(shared, d), 0o777)
			os.Chmod(filepath.Join(shared, d), 0o777)
		}
		srv := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Local: true, InitDBArgs: []string{"--wal-segsize=1"},
			Conf: "archive_mode = on\narchive_command = '" + bin + " --config=" + conf + " --stanza=drill archive-push %p'\n"})
		body := "[global]\nrepo1-path=" + filepath.Join(shared, "repo") + "\nlog-path=" + filepath.Join(shared, "log") +
			"\nlock-path=" + filepath.Join(shared, "lock") + "\nspool-path=" + filepath.Join(shared, "spool") +
			"\nstart-fast=y\nlog-level-console=warn\n\n[drill]\npg1-path=" + filepath.Join(srv.Dir, "data") +
			"\npg1-port=" + strconv.Itoa(srv.ServerPort) + "\npg1-socket-path=" + srv.Dir + "\n"
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		for _, cmd := range []string{"stanza-create", "backup"} {
			if out, err := srv.Exec(ctx, bin, "--config="+conf, "--stanza=drill", cmd); err != nil {
				t.Fatalf("pgbackrest %s: %v\n%s", cmd, err, out)
			}
		}
		conn, err := pgx.Connect(ctx, srv.AdminDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		before, target, after := sentinelsAround(t, conn)

		src := &PgBackRest{Stanza: "drill", Config: conf, Binary: bin}
		r, err := Drill(ctx, Options{PgBackRest: src, Target: target, BinDir: srv.BinDir(), SentinelDSN: srv.AdminDSN})
		if err != nil || !r.Passed {
			t.Fatalf("pgBackRest drill: %v %+v", err, r)
		}
		checkBackRestDrill(t, r, before, after)
		checkCleanedUp(t, r)

		// A WAL file gone from the repository: pgbackrest verify (or recovery) says so.
		var walFiles []string
		filepath.Walk(filepath.Join(shared, "repo", "archive"), func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() && len(info.Name()) > 24 && strings.HasPrefix(info.Name(), "0000000100") {
				walFiles = append(walFiles, p)
			}
			return nil
		})
		sort.Strings(walFiles)
		if len(walFiles) < 3 {
			t.Fatalf("the repository holds %d WAL files", len(walFiles))
		}
		os.Remove(walFiles[len(walFiles)-2])
		r, err = Drill(ctx, Options{PgBackRest: src, Target: target, BinDir: srv.BinDir()})
		if err != nil || r.Passed || (r.Failed != "pre-flight" && r.Failed != "recover") {
			t.Errorf("a WAL file missing from the repository: %v %+v", err, r)
		}
		t.Logf("missing WAL: failed at %s: %s", r.Failed, r.Steps[len(r.Steps)-1].Detail)
		checkCleanedUp(t, r)
	})
}

// readableByAll opens a backup or archive tree to every user: the scratch server runs as another.
func readableByAll(dir string) {
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			mode := os.FileMode(0o644)
			if info.IsDir() {
				mode = 0o777
			}
			os.Chmod(p, mode)
		}
		return nil
	})
}

type testOSUser struct{ uid, gid int }

// osUserForTest makes (once) a system user standing for a database's own OS user.
func osUserForTest(t *testing.T, name string) testOSUser {
	t.Helper()
	if _, err := user.Lookup(name); err != nil {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
			t.Fatalf("useradd %s: %v\n%s", name, err, out)
		}
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return testOSUser{uid, gid}
}

// sentinelsAround writes a heartbeat, takes the target a moment later, writes two more, and
// waits for them to be archived: the drill must restore the first and not the others.
func sentinelsAround(t *testing.T, conn *pgx.Conn) (before Heartbeat, target time.Time, after Heartbeat) {
	t.Helper()
	ctx := t.Context()
	time.Sleep(1100 * time.Millisecond) // past the backup's end, to the second
	before, err := WriteSentinel(ctx, conn, "before", true)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	target = time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	after, _ = WriteSentinel(ctx, conn, "after", true)
	WriteSentinel(ctx, conn, "later", true)
	time.Sleep(time.Second) // archive-push
	return before, target, after
}

// checkBackRestDrill checks a pgBackRest drill's pre-flight ran verify and its assert saw the
// sentinels.
func checkBackRestDrill(t *testing.T, r *Report, before, after Heartbeat) {
	t.Helper()
	d := r.Steps[len(r.Steps)-1].Detail
	if !strings.Contains(d, "newest row "+strconv.FormatInt(before.Counter, 10)) || !strings.Contains(d, "row "+strconv.FormatInt(after.Counter, 10)+", written just after it, is absent") {
		t.Errorf("assert: %s", d)
	}
	if !strings.Contains(r.Steps[0].Detail, "pgbackrest verify passed") {
		t.Errorf("pre-flight: %s", r.Steps[0].Detail)
	}
}

// pgbackrestBinary finds pgbackrest; without it the test skips (fails under CI=true).
func pgbackrestBinary(t *testing.T) string {
	t.Helper()
	return pgtest.Program(t, "pgbackrest", "pgbackrest")
}
