package pitr

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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
		checkCleanedUp(t, r)

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
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
