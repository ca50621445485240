package pitr

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/pgtest"
)

// TestDrillPgBackRestS3 runs the drill from a pgBackRest repository in an object store, as the
// platform keeps its backups: a real S3 server (SeaweedFS) on loopback over TLS, the stanza
// created there, WAL archived there by archive-push, a full and a differential backup; the
// drill (pgbackrest info and verify against S3, restore, archive-get as restore_command,
// sentinels) is the local repository's, unchanged. Wrong credentials fail the pre-flight with
// the store's refusal, and the secret appears nowhere.
func TestDrillPgBackRestS3(t *testing.T) {
	pgtest.EachMajorWithBinaries(t, func(t *testing.T) {
		bin := pgbackrestBinary(t)
		store := pgtest.NewS3(t, "backups")
		shared := sharedDir(t)
		for _, d := range []string{"log", "lock", "spool"} {
			os.Mkdir(filepath.Join(shared, d), 0o777)
			os.Chmod(filepath.Join(shared, d), 0o777)
		}
		conf := filepath.Join(shared, "pgbackrest.conf")
		srv := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Local: true, InitDBArgs: []string{"--wal-segsize=1"},
			Conf: "archive_mode = on\narchive_command = '" + bin + " --config=" + conf + " --stanza=drill archive-push %p'\n"})
		// The repository's credentials in pgbackrest.conf, as hosts keep them (readable by the
		// server's user and the drill's, nobody else in real life).
		repo := func(secret string) string {
			return "[global]\nrepo1-type=s3\nrepo1-path=/pgtune/drill\nrepo1-s3-bucket=backups\nrepo1-s3-endpoint=" + store.Host +
				"\nrepo1-storage-port=" + strconv.Itoa(store.Port) + "\nrepo1-s3-region=" + store.Region + "\nrepo1-s3-uri-style=path" +
				"\nrepo1-storage-ca-file=" + store.CAFile + "\nrepo1-s3-key=" + store.AccessKey + "\nrepo1-s3-key-secret=" + secret +
				"\nrepo1-retention-full=2\nlog-path=" + filepath.Join(shared, "log") + "\nlock-path=" + filepath.Join(shared, "lock") +
				"\nspool-path=" + filepath.Join(shared, "spool") + "\nstart-fast=y\nlog-level-console=warn\n\n[drill]\npg1-path=" +
				filepath.Join(srv.Dir, "data") + "\npg1-port=" + strconv.Itoa(srv.ServerPort) + "\npg1-socket-path=" + srv.Dir + "\n"
		}
		if err := os.WriteFile(conf, []byte(repo(store.SecretKey)), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		pgbr := func(args ...string) {
			t.Helper()
			if out, err := srv.Exec(ctx, append([]string{bin, "--config=" + conf, "--stanza=drill"}, args...)...); err != nil {
				t.Fatalf("pgbackrest %v: %v\n%s", args, err, out)
			}
		}
		conn, err := pgx.Connect(ctx, srv.AdminDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		pgbr("stanza-create")
		pgbr("--type=full", "backup")
		if _, err := conn.Exec(ctx, `CREATE TABLE after_full AS SELECT g AS id FROM generate_series(1, 5000) g`); err != nil {
			t.Fatal(err)
		}
		pgbr("--type=diff", "backup")
		// The repository is in the bucket: pgBackRest's own listing of it says so.
		var info []struct {
			Backup []struct {
				Type string `json:"type"`
			} `json:"backup"`
		}
		out, err := srv.Exec(ctx, bin, "--config="+conf, "--stanza=drill", "--output=json", "info")
		if err != nil || json.Unmarshal([]byte(out), &info) != nil || len(info) != 1 || len(info[0].Backup) != 2 || info[0].Backup[1].Type != "diff" {
			t.Fatalf("pgbackrest info: %v\n%s", err, out)
		}
		objects, err := store.Client.List(ctx, "backups", "pgtune/drill/")
		if err != nil || len(objects) < 10 {
			t.Fatalf("the bucket holds %d objects under pgtune/drill/ (%v)", len(objects), err)
		}

		before, target, after := sentinelsAround(t, conn)

		src := &PgBackRest{Stanza: "drill", Config: conf, Binary: bin}
		r, err := Drill(ctx, Options{PgBackRest: src, Target: target, BinDir: srv.BinDir(), SentinelDSN: srv.AdminDSN,
			Checks: []string{"SELECT count(*) = 5000 FROM after_full"}})
		if err != nil || !r.Passed {
			t.Fatalf("pgBackRest S3 drill: %v %+v", err, r)
		}
		checkBackRestDrill(t, r, before, after)
		if r.NewestWAL == "" || r.ArchiveLag <= 0 || r.ArchiveLag > time.Minute {
			t.Errorf("the archiving lag from the repository: newest %q, %v", r.NewestWAL, r.ArchiveLag)
		}
		checkCleanedUp(t, r)

		if pgtest.InImage() {
			// The faults are pgBackRest's and the drill's, not a major's: the local major runs them
			// (each is a drill, the store killed one bounded by its timeout).
			return
		}
		// The repository's objects damaged in the store, one at a time and put back after: each
		// caught by pgbackrest verify at pre-flight, or by archive-get when recovery fetches it.
		var walObjs, manifests []string
		for _, o := range objects {
			base := o.Key[strings.LastIndex(o.Key, "/")+1:]
			switch {
			case strings.Contains(o.Key, "/archive/") && len(base) > 24 && strings.HasPrefix(base, "0000000100"):
				walObjs = append(walObjs, o.Key)
			case strings.HasSuffix(o.Key, "/backup.manifest") || strings.HasSuffix(o.Key, "/backup.manifest.copy"):
				manifests = append(manifests, o.Key)
			}
		}
		if now, err := store.Client.List(ctx, "backups", "pgtune/drill/archive/"); err == nil {
			walObjs = walObjs[:0]
			for _, o := range now {
				if base := o.Key[strings.LastIndex(o.Key, "/")+1:]; len(base) > 24 && strings.HasPrefix(base, "0000000100") {
					walObjs = append(walObjs, o.Key)
				}
			}
		}
		sort.Strings(walObjs)
		sort.Strings(manifests)
		if len(walObjs) < 3 || len(manifests) < 4 {
			t.Fatalf("the bucket holds %d WAL objects and %d manifests", len(walObjs), len(manifests))
		}
		saved := map[string][]byte{}
		save := func(keys ...string) {
			for _, k := range keys {
				b, err := store.Client.Get(ctx, "backups", k)
				if err != nil {
					t.Fatal(err)
				}
				saved[k] = b
			}
		}
		restore := func() {
			for k, b := range saved {
				if err := store.Client.Put(ctx, "backups", k, b); err != nil {
					t.Fatal(err)
				}
			}
			clear(saved)
		}
		victim := walObjs[len(walObjs)-2] // written after the differential backup, before the target
		newest := manifests[len(manifests)-2:]
		for _, f := range []struct {
			name  string
			steps []string
			want  string
			do    func()
		}{
			{"a WAL object deleted", []string{"pre-flight"}, "is missing from the stanza's archive", func() { save(victim); store.Client.Delete(ctx, "backups", victim) }},
			{"a WAL object overwritten with garbage", []string{"pre-flight"}, "pgbackrest verify found damaged files in the repository: invalid result", func() {
				save(victim)
				store.Client.Put(ctx, "backups", victim, []byte(strings.Repeat("garbage!", 1024)))
			}},
			{"the newest backup's manifest gone (and its copy)", []string{"pre-flight", "restore"}, "backup.manifest", func() {
				save(newest...)
				for _, k := range newest {
					store.Client.Delete(ctx, "backups", k)
				}
			}},
		} {
			f.do()
			r, err := Drill(ctx, Options{PgBackRest: src, Target: target, BinDir: srv.BinDir()})
			restore()
			if err != nil || r.Passed || !slices.Contains(f.steps, r.Failed) || !strings.Contains(r.Steps[len(r.Steps)-1].Detail, f.want) {
				t.Errorf("%s: %v; failed at %q, want one of %v: %+v", f.name, err, r.Failed, f.steps, r.Steps[len(r.Steps)-1])
			} else {
				t.Logf("%s: failed at %s: %s", f.name, r.Failed, r.Steps[len(r.Steps)-1].Detail)
			}
			checkCleanedUp(t, r)
		}

		// Wrong credentials: the pre-flight fails with the store's refusal, and the secret (the
		// wrong one, and the right one) appears in nothing the drill reports.
		wrong := "WRONG" + store.SecretKey[5:]
		if err := os.WriteFile(conf, []byte(repo(wrong)), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err = Drill(ctx, Options{PgBackRest: src, Target: target, BinDir: srv.BinDir()})
		if r == nil || r.Passed || r.Failed != "pre-flight" {
			t.Fatalf("wrong credentials: %v %+v", err, r)
		}
		doc, _ := json.Marshal(r)
		all := string(doc) + " " + errString(err)
		for _, secret := range []string{store.SecretKey, wrong} {
			if strings.Contains(all, secret) {
				t.Errorf("a secret key is in the drill's report: %s", all)
			}
		}
		if d := r.Steps[len(r.Steps)-1].Detail; !strings.Contains(d, "the object store refused pgBackRest's credentials: check repo1-s3-key") {
			t.Errorf("wrong credentials: %s", d)
		}
		checkCleanedUp(t, r)

		// The store gone mid-recovery: archive-get fails, the drill fails at recover and cleans up.
		// pgBackRest retries a store that does not answer for io-timeout (60 s) per file: a short
		// one, and a bound on the recovery, keep the test short whichever gives up first.
		if err := os.WriteFile(conf, []byte(strings.Replace(repo(store.SecretKey), "[global]\n", "[global]\nio-timeout=5\n", 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		testHookRecovering = store.Stop
		defer func() { testHookRecovering = nil }()
		r, err = Drill(ctx, Options{PgBackRest: src, Target: target, BinDir: srv.BinDir(), Timeout: 30 * time.Second})
		if err != nil || r.Passed || r.Failed != "recover" {
			t.Errorf("the store gone mid-recovery: %v; failed at %q: %+v", err, r.Failed, r.Steps[len(r.Steps)-1])
		}
		checkCleanedUp(t, r)
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
