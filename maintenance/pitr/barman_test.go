package pitr

import (
	"context"
	"encoding/json"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/pgtest"
	"github.com/bookedbarber/pgtune/internal/s3"
)

// TestDrillBarmanCloud drills the commonest hand-rolled set-up: archive_command =
// barman-cloud-wal-archive into a real S3 server (TLS, the test's own keys, from the
// environment), a base backup by barman-cloud-backup. The drill lists the store itself and
// restores with barman-cloud-restore and barman-cloud-wal-restore; then each fault is caught
// at its step: a WAL object overwritten with garbage and one deleted (pre-flight), the newest
// backup without its backup.info (pre-flight), wrong credentials and a wrong bucket (one line
// with the fix, no secret), the store gone mid-recovery (recover fails, everything removed).
func TestDrillBarmanCloud(t *testing.T) {
	pgtest.EachMajor(t, func(t *testing.T) {
		pgtest.Program(t, "barman-cloud-backup", "barman-cli-cloud")
		store := pgtest.NewS3(t, "barman")
		// The credentials live in the environment, for the archiver, the backup and the drill.
		t.Setenv("AWS_ACCESS_KEY_ID", store.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", store.SecretKey)
		t.Setenv("AWS_DEFAULT_REGION", store.Region)
		t.Setenv("AWS_CA_BUNDLE", store.CAFile)
		const dest, server = "s3://barman/booking", "drill"
		srv := pgtest.NewDedicated(t, pgtest.DedicatedOptions{Local: true, InitDBArgs: []string{"--wal-segsize=1"},
			Conf: "archive_mode = on\narchive_command = 'barman-cloud-wal-archive --cloud-provider aws-s3 --endpoint-url " + store.Endpoint + " " + dest + " " + server + " %p'\n"})
		ctx := t.Context()
		conn, err := pgx.Connect(ctx, srv.AdminDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, `CREATE TABLE before_backup AS SELECT g AS id FROM generate_series(1, 3000) g`); err != nil {
			t.Fatal(err)
		}
		if out, err := srv.Exec(ctx, "barman-cloud-backup", "--cloud-provider", "aws-s3", "--endpoint-url", store.Endpoint,
			"-h", "127.0.0.1", "-p", strconv.Itoa(srv.ServerPort), "-U", "postgres", dest, server); err != nil {
			t.Fatalf("barman-cloud-backup: %v\n%s", err, out)
		}
		before, target, after := sentinelsAround(t, conn)
		waitArchived(t, conn)

		bc := &BarmanCloud{URL: dest, Server: server, Endpoint: store.Endpoint, Client: store.Client}
		drill := func(bc *BarmanCloud) *Report {
			t.Helper()
			r, err := Drill(ctx, Options{Barman: bc, Target: target, BinDir: srv.BinDir(), SentinelDSN: srv.AdminDSN,
				Checks: []string{"SELECT count(*) = 3000 FROM before_backup"}, MaxAge: time.Hour})
			if err != nil {
				t.Fatalf("drill: %v", err)
			}
			checkCleanedUp(t, r)
			return r
		}
		r := drill(bc)
		if !r.Passed {
			t.Fatalf("barman-cloud drill: %+v", r)
		}
		d := r.Steps[len(r.Steps)-1].Detail
		if !strings.Contains(d, "newest row "+strconv.FormatInt(before.Counter, 10)) || !strings.Contains(d, "row "+strconv.FormatInt(after.Counter, 10)+", written just after it, is absent") {
			t.Errorf("assert: %s", d)
		}
		if pf := r.Steps[0].Detail; !strings.Contains(pf, "barman-cloud backup") || !strings.Contains(pf, "newest archived WAL") {
			t.Errorf("pre-flight: %s", pf)
		}
		if r.NewestWAL == "" || r.ArchiveLag > time.Minute || r.BackupAge > time.Minute {
			t.Errorf("from the store: newest WAL %q, %v behind; backup age %v", r.NewestWAL, r.ArchiveLag, r.BackupAge)
		}

		// The faults, one at a time, each put back after.
		walKeys, err := store.Client.List(ctx, "barman", "booking/drill/wals/")
		if err != nil {
			t.Fatal(err)
		}
		var segs []string
		for _, o := range walKeys {
			if len(path.Base(o.Key)) == 24 {
				segs = append(segs, o.Key)
			}
		}
		if len(segs) < 4 {
			t.Fatalf("the store holds %d WAL segments", len(segs))
		}
		victim := segs[len(segs)-2] // after the backup's start: recovery needs it
		original, err := store.Client.Get(ctx, "barman", victim)
		if err != nil {
			t.Fatal(err)
		}
		fault := func(name, step, want string, do, undo func()) {
			t.Helper()
			do()
			r := drill(bc)
			undo()
			if r.Passed || r.Failed != step || !strings.Contains(r.Steps[len(r.Steps)-1].Detail, want) {
				t.Errorf("%s: failed at %q, want %s with %q: %+v", name, r.Failed, step, want, r.Steps[len(r.Steps)-1])
			}
		}
		put := func(key string, data []byte) func() {
			return func() {
				if err := store.Client.Put(ctx, "barman", key, data); err != nil {
					t.Fatal(err)
				}
			}
		}
		del := func(key string) func() {
			return func() {
				if err := store.Client.Delete(ctx, "barman", key); err != nil {
					t.Fatal(err)
				}
			}
		}
		fault("a WAL object overwritten with garbage", "pre-flight", "corrupted or overwritten object",
			put(victim, []byte(strings.Repeat("garbage!", 4096))), put(victim, original))
		fault("a WAL object deleted", "pre-flight", path.Base(victim)+" (timeline 1) is missing from s3://barman/booking/drill/wals/",
			del(victim), put(victim, original))
		base, err := store.Client.List(ctx, "barman", "booking/drill/base/")
		if err != nil {
			t.Fatal(err)
		}
		var infoKey string
		for _, o := range base {
			if strings.HasSuffix(o.Key, "/backup.info") {
				infoKey = o.Key
			}
		}
		info, err := store.Client.Get(ctx, "barman", infoKey)
		if err != nil {
			t.Fatal(err)
		}
		fault("the newest backup without its backup.info", "pre-flight", "has no backup.info", del(infoKey), put(infoKey, info))

		// Credentials and the bucket: one line with the fix, and no secret anywhere.
		for name, tc := range map[string]struct {
			edit func(*s3.Client, *BarmanCloud)
			want string
		}{
			"wrong secret": {func(c *s3.Client, _ *BarmanCloud) { c.SecretKey = "WRONG" + store.SecretKey[5:] }, "check AWS_SECRET_ACCESS_KEY"},
			"wrong bucket": {func(_ *s3.Client, b *BarmanCloud) { b.URL = "s3://no-such-bucket/booking" }, "no such bucket"},
		} {
			client := *store.Client
			bad := *bc
			bad.Client = &client
			tc.edit(&client, &bad)
			r := drill(&bad)
			doc, _ := json.Marshal(r)
			if r.Passed || r.Failed != "pre-flight" || !strings.Contains(string(doc), tc.want) || strings.Contains(string(doc), store.SecretKey) || strings.Contains(string(doc), store.SecretKey[5:]) {
				t.Errorf("%s: %s", name, doc)
			}
		}

		// The store gone mid-recovery: restore_command fails, recovery ends before the target,
		// and the drill fails cleanly, the scratch directory and server removed.
		testHookRecovering = store.Stop
		defer func() { testHookRecovering = nil }()
		r = drill(bc)
		if r.Passed || r.Failed != "recover" {
			t.Errorf("the store gone mid-recovery: failed at %q: %+v", r.Failed, r.Steps[len(r.Steps)-1])
		}
		t.Logf("store gone: %s", r.Steps[len(r.Steps)-1].Detail)
	}, pgtest.LocalBinaries())
}
