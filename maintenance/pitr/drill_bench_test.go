package pitr

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bookedbarber/pgtune/internal/booking"
	"github.com/bookedbarber/pgtune/internal/pgtest"
)

var drillScale = flag.Float64("drill-scale", 10, "BenchmarkDrill: the booking demo's scale factor")

// BenchmarkDrill restores the booking database at scale 10 from a plain base backup and its WAL
// archive twice in the same run: with `pgtune backup verify` (every step timed) and by hand — copy
// the backup, write recovery.signal and the recovery settings, start the server, wait for the
// promotion — so the drill's own overhead shows as a ratio.
//
//	CI=true go test -run '^$' -bench Drill -benchtime 1x -timeout 30m ./maintenance/pitr/ -drill-scale=10
func BenchmarkDrill(b *testing.B) {
	shared, err := os.MkdirTemp("", "pgtune-drill-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(shared)
	os.Chmod(shared, 0o777)
	archive := filepath.Join(shared, "archive")
	os.Mkdir(archive, 0o777)
	os.Chmod(archive, 0o777)
	srv := pgtest.NewDedicated(b, pgtest.DedicatedOptions{Local: true,
		Conf: "archive_mode = on\narchive_command = 'test ! -f " + archive + "/%f && cp %p " + archive + "/%f'\nmax_wal_size = '4GB'\n"})
	ctx := b.Context()
	conn, err := pgx.Connect(ctx, srv.AdminDSN)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	t0 := time.Now()
	if _, err := booking.Load(ctx, conn, booking.LoadOptions{Options: booking.Options{Scale: *drillScale, Seed: 1}}); err != nil {
		b.Fatal(err)
	}
	load := time.Since(t0)
	backup := filepath.Join(shared, "base")
	t0 = time.Now()
	if out, err := srv.Exec(ctx, "pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(srv.ServerPort), "-U", "postgres", "-D", backup, "-X", "none", "-c", "fast"); err != nil {
		b.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	baseTook := time.Since(t0)
	time.Sleep(1100 * time.Millisecond)
	// WAL to replay: a day's worth of booking changes, roughly.
	for _, sql := range []string{
		"UPDATE appointments SET updated_at = now() WHERE id % 10 = 0",
		"UPDATE notifications SET attempts = attempts + 1 WHERE id % 10 = 0",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	before, _ := WriteSentinel(ctx, conn, "before", true)
	time.Sleep(20 * time.Millisecond)
	target := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	WriteSentinel(ctx, conn, "after", true)
	time.Sleep(3 * time.Second) // the archiver
	entries, _ := os.ReadDir(archive)
	var dirBytes int64
	filepath.Walk(backup, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			dirBytes += info.Size()
		}
		return nil
	})

	for b.Loop() {
		// Bare, drill, bare: the page cache favours no one; the bare figure is the mean of two.
		t0 = time.Now()
		bare1 := bareRestore(b, srv.BinDir(), backup, archive, target)
		bare1Took := time.Since(t0)
		t0 = time.Now()
		r, err := Drill(ctx, Options{BaseBackup: backup, WALArchive: archive, Target: target, BinDir: srv.BinDir(), SentinelDSN: srv.AdminDSN})
		drillTook := time.Since(t0)
		if err != nil || !r.Passed {
			b.Fatalf("drill: %v %+v", err, r)
		}
		t0 = time.Now()
		bare2 := bareRestore(b, srv.BinDir(), backup, archive, target)
		bareTook := (bare1Took + time.Since(t0)) / 2
		bare := (bare1 + bare2) / 2
		fmt.Fprintf(os.Stderr, "\nscale %g: load %v, base backup %v (%.1f GB), %d archived WAL segments; target row %d\n",
			*drillScale, load.Round(time.Second), baseTook.Round(time.Second), float64(dirBytes)/(1<<30), len(entries), before.Counter)
		fmt.Fprintf(os.Stderr, "| step | took | detail |\n|---|---:|---|\n")
		for _, s := range r.Steps {
			fmt.Fprintf(os.Stderr, "| %s | %.2f s | %s |\n", s.Name, s.Duration.Seconds(), s.Detail)
		}
		fmt.Fprintf(os.Stderr, "| **drill, total** | **%.2f s** |\n| bare restore (copy, recovery settings, start, replay, promote) | %.2f s |\n| of which copy | %.2f s |\n\ndrill / bare = %.2f; data-loss window %v\n",
			drillTook.Seconds(), bareTook.Seconds(), bare.Seconds(), drillTook.Seconds()/bareTook.Seconds(), r.DataLoss.Round(time.Millisecond))
		b.ReportMetric(drillTook.Seconds(), "drill_s")
		b.ReportMetric(bareTook.Seconds(), "bare_s")
		b.ReportMetric(drillTook.Seconds()/bareTook.Seconds(), "ratio")
	}
}

// bareRestore is what a DBA would do by hand; it returns how long the copy took.
func bareRestore(b *testing.B, binDir, backup, archive string, target time.Time) time.Duration {
	dir, err := os.MkdirTemp("", "pgtune-bare-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")
	t0 := time.Now()
	if out, err := exec.Command("cp", "-a", backup, data).CombinedOutput(); err != nil {
		b.Fatalf("cp: %v %s", err, out)
	}
	copyTook := time.Since(t0)
	os.Remove(filepath.Join(data, "backup_manifest"))
	port, _ := freePort()
	conf := fmt.Sprintf("\nport = %d\nlisten_addresses = ''\nunix_socket_directories = '%s'\narchive_mode = off\nhot_standby = off\nrestore_command = 'cp \"%s/%%f\" \"%%p\"'\nrecovery_target_time = '%s'\nrecovery_target_action = 'promote'\n",
		port, dir, archive, target.Format("2006-01-02 15:04:05.999999+00"))
	f, _ := os.OpenFile(filepath.Join(data, "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(conf)
	f.Close()
	os.WriteFile(filepath.Join(data, "recovery.signal"), nil, 0o600)
	acct, err := runAs("", archive)
	if err != nil {
		b.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	chownTree(dir, acct)
	os.Chmod(data, 0o700)
	cmd := exec.Command(filepath.Join(binDir, "postgres"), "-D", data)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: acct.cred()}
	logf, _ := os.Create(filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGINT); cmd.Wait() }()
	s := &server{sockDir: dir, port: port, exited: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := s.waitPromoted(ctx, "postgres"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		b.Fatalf("bare restore: %v\n%s", err, log)
	}
	return copyTook
}
