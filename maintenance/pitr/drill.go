package pitr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// osUserName is the OS user pgtune runs as, for messages.
func osUserName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

// Options describe a drill.
type Options struct {
	// BaseBackup is a pg_basebackup output directory; WALArchive the WAL archive directory.
	BaseBackup, WALArchive string
	// Increments are incremental backups (17+, pg_basebackup --incremental) on top of
	// BaseBackup, oldest first: the chain is checked, combined with pg_combinebackup and restored.
	Increments []string
	// Target is the recovery target time; zero means the end of the archive (latest).
	Target time.Time
	// MaxAge fails the drill when the backup is older (the recovery-point objective; 0: none).
	MaxAge time.Duration
	// Checks are SQL queries returning one boolean each, run in Database after promotion.
	Checks []string
	// Amcheck runs pg_amcheck over every database of the restored server.
	Amcheck bool
	// User and Database are what the checks connect as and to (the backup's superuser).
	User, Database string
	// PgBackRest restores from a pgBackRest stanza instead of BaseBackup and WALArchive.
	PgBackRest *PgBackRest
	// Barman restores from base backups and WAL Barman's cloud tools keep in an object store.
	Barman *BarmanCloud
	// SentinelDSN, when set, reads the live database's heartbeat rows around the target, so the
	// drill knows exactly which row must be there and which must not.
	SentinelDSN string
	// BinDir overrides the server binaries' directory.
	BinDir string
	// OSUser is the OS user the scratch server (and so its restore_command) runs as, when pgtune
	// runs as root; empty: the WAL archive's owner, else postgres.
	OSUser string
	// ScratchParent is where the scratch directory is made (os.TempDir() by default).
	ScratchParent string
	// Timeout bounds the recovery (default 1 h).
	Timeout time.Duration
	Log     *slog.Logger
	// Now is the drill's clock (time.Now by default).
	Now func() time.Time
}

// Step is one step of the drill.
type Step struct {
	Name     string        `json:"name"`
	Passed   bool          `json:"passed"`
	Duration time.Duration `json:"duration_ns"`
	Detail   string        `json:"detail"`
}

// Report is a drill's result.
type Report struct {
	Backup  string `json:"backup"`
	Archive string `json:"archive"`
	// Target is the recovery target ("latest" or an RFC 3339 time).
	Target string `json:"target"`
	Steps  []Step `json:"steps"`
	Passed bool   `json:"passed"`
	// OSUser is the OS user the scratch server ran as (when pgtune ran as root).
	OSUser string `json:"os_user,omitempty"`
	// BackupStarted is the backup's start; BackupAge its age at the drill.
	BackupStarted time.Time     `json:"backup_started"`
	BackupAge     time.Duration `json:"backup_age_ns"`
	// LastReplayed is the commit time of the last transaction recovery replayed; DataLoss the
	// window between it and the target (what a restore to the target loses at most).
	LastReplayed *time.Time    `json:"last_replayed,omitempty"`
	DataLoss     time.Duration `json:"data_loss_window_ns,omitempty"`
	// NewestWAL is the newest WAL object in an object store and ArchiveLag its age at the
	// drill: how far behind archiving is (what a DBA alarms on).
	NewestWAL  string        `json:"newest_wal,omitempty"`
	ArchiveLag time.Duration `json:"archive_lag_ns,omitempty"`
	// StoppedAt is the first commit recovery did not replay (the target worked).
	StoppedAt *time.Time `json:"stopped_before,omitempty"`
	Timeline  uint32     `json:"timeline,omitempty"`
	// Failed names the failed step.
	Failed string `json:"failed,omitempty"`
	// Scratch is the directory the drill used (removed at the end).
	Scratch string `json:"scratch"`
}

func (r *Report) step(name string, began time.Time, err error, detail string) error {
	s := Step{Name: name, Passed: err == nil, Duration: time.Since(began), Detail: detail}
	if err != nil {
		s.Detail = err.Error()
		if r.Failed == "" {
			r.Failed = name
		}
	}
	r.Steps = append(r.Steps, s)
	return err
}

var (
	stoppingRe    = regexp.MustCompile(`recovery stopping (?:before|after) (?:commit|abort) of transaction \d+, time (.+)$`)
	lastTxRe      = regexp.MustCompile(`last completed transaction was at log time (.+)$`)
	newTimelineRe = regexp.MustCompile(`selected new timeline ID: (\d+)`)
	endedEarlyRe  = regexp.MustCompile(`FATAL:\s+(recovery ended before configured recovery target was reached|requested recovery stop point is before consistent recovery point|.*)$`)
	refusedRe     = regexp.MustCompile(`the database system is (starting up|not accepting connections|not yet accepting connections|shutting down)`)
	invalidWALRe  = regexp.MustCompile(`(invalid (record length|resource manager ID|magic number|contrecord)|incorrect resource manager data checksum|unexpected pageaddr|record with incorrect prev-link)[^"]*`)
)

// testHookRecovering, when set by a test, runs once the scratch server has started recovering.
var testHookRecovering func()

// Drill runs the restore drill: pre-flight, restore, recover, assert (and pg_amcheck), each a
// phase of drill that records its step; the first to fail ends the drill, which always cleans up.
func Drill(ctx context.Context, o Options) (*Report, error) {
	o = o.withDefaults()
	d := &drill{o: o, binDir: o.BinDir, r: &Report{Backup: strings.Join(append([]string{o.BaseBackup}, o.Increments...), " + "), Archive: o.WALArchive, Target: "latest"}}
	if !o.Target.IsZero() {
		d.r.Target = o.Target.UTC().Format(time.RFC3339Nano)
	}
	scratch, err := os.MkdirTemp(o.ScratchParent, "pgtune-drill-")
	if err != nil {
		return nil, err
	}
	d.r.Scratch, d.scratch, d.dataDir = scratch, scratch, filepath.Join(scratch, "data")
	defer func() {
		// Always: stop the server, remove everything (also after an error or a signal).
		d.srv.stop()
		os.RemoveAll(scratch)
	}()
	for _, phase := range []func(context.Context) bool{d.preflight, d.restore, d.recover, d.assert, d.amcheck} {
		if stop := phase(ctx); stop {
			return d.r, ctx.Err()
		}
	}
	d.r.Passed = true
	return d.r, nil
}

// withDefaults fills what the caller left out.
func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Hour
	}
	if o.User == "" {
		o.User = "postgres"
	}
	if o.Database == "" {
		o.Database = "postgres"
	}
	return o
}

// drill is one run of Drill: the source as pre-flight found it, the scratch server, the report.
type drill struct {
	o       Options
	r       *Report
	acct    *osAccount
	cred    *syscall.Credential
	scratch string
	dataDir string
	binDir  string
	// The source, one of: a base backup and its WAL archive, a pgBackRest set, a Barman set.
	b    *Backup
	a    *Archive
	set  *backrestSet
	bset *barmanSet
	port int
	// settings are the recovery settings written for the scratch server.
	settings []string
	srv      *server
}

// preflight checks the source before anything is restored: the OS user the server runs as,
// then the backup and the archive as the source keeps them. It reports whether the drill stops.
func (d *drill) preflight(ctx context.Context) bool {
	o, r := d.o, d.r
	began := time.Now()
	acct, err := runAs(o.OSUser, o.WALArchive)
	d.acct, d.cred = acct, acct.cred()
	if acct != nil {
		r.OSUser = acct.Name
	}
	if err != nil {
		r.step("pre-flight", began, err, "")
		return true
	}
	var detail string
	switch {
	case o.Barman != nil:
		r.Backup, r.Archive = o.Barman.String(), o.Barman.walURL()
		d.bset, detail, err = preflightBarman(ctx, o.Barman, o)
		if err == nil && d.binDir == "" {
			d.binDir, err = BinDir(d.bset.Version)
		}
		if d.bset != nil {
			r.BackupStarted = d.bset.Begin
			r.ArchiveLag, r.NewestWAL = d.bset.Lag, d.bset.NewestWAL
		}
	case o.PgBackRest != nil:
		r.Backup = "pgbackrest:" + o.PgBackRest.Stanza
		d.set, detail, err = preflightPgBackRest(ctx, o.PgBackRest, o, d.cred)
		if err == nil && d.binDir == "" {
			d.binDir, err = BinDir(d.set.Version)
		}
		if d.set != nil {
			r.BackupStarted = d.set.Start
			r.NewestWAL, r.ArchiveLag = d.set.NewestWAL, d.set.Lag
		}
	default:
		d.b, d.a, d.binDir, detail, err = preflight(o, acct)
		if d.b != nil {
			r.BackupStarted = d.b.StartTime
		}
	}
	if r.step("pre-flight", began, err, detail) != nil {
		return true
	}
	r.BackupAge = o.Now().Sub(r.BackupStarted)
	return ctx.Err() != nil
}

// restore restores the backup into the scratch directory, isolated: socket only, archiving off,
// no preloaded libraries, recovery settings towards the target.
func (d *drill) restore(ctx context.Context) bool {
	o := d.o
	began := time.Now()
	var err error
	restored := ""
	switch {
	case o.Barman != nil:
		err = ownedDataDir(d.scratch, d.dataDir, d.acct)
		if err == nil {
			err = o.Barman.restore(ctx, d.bset, d.dataDir, d.cred)
		}
		restored = fmt.Sprintf("barman-cloud-restore restored backup %s from %s; barman-cloud-wal-restore as restore_command", d.bset.ID, o.Barman)
	case o.PgBackRest != nil:
		err = ownedDataDir(d.scratch, d.dataDir, d.acct)
		if err == nil {
			err = restorePgBackRest(ctx, o.PgBackRest, d.set, d.dataDir, o.Target, d.cred)
		}
		restored = fmt.Sprintf("pgBackRest restored backup %s (checking every file's checksum) with its archive-get as restore_command", d.set.Label)
	default:
		restored, err = d.restoreBaseBackup(ctx)
	}
	if err == nil {
		d.port, err = freePort()
	}
	if err == nil {
		restoreCommand := fmt.Sprintf(`cp "%s/%%f" "%%p"`, o.WALArchive)
		switch {
		case o.PgBackRest != nil:
			restoreCommand = "" // pgBackRest wrote the recovery settings
		case o.Barman != nil:
			restoreCommand = o.Barman.restoreCommand()
		}
		d.settings, err = configure(d.dataDir, d.scratch, d.port, restoreCommand, o.Target)
	}
	if err == nil {
		err = os.Chmod(d.scratch, 0o755)
	}
	if err == nil {
		err = chownTree(d.scratch, d.acct)
	}
	if d.r.step("restore", began, err, restored+"; socket only, archiving off, no preloaded libraries") != nil {
		return true
	}
	return ctx.Err() != nil
}

// restoreBaseBackup copies (or, for an incremental chain, combines) a base backup into the data
// directory and checks it against its manifest; it says how it went.
func (d *drill) restoreBaseBackup(ctx context.Context) (string, error) {
	b := d.b
	copyStart := time.Now()
	how := b.Format + " backup restored"
	verified := b
	var err error
	if len(b.Chain) > 0 {
		// pg_combinebackup writes the combined directory and a manifest of it, which
		// pg_verifybackup then checks like a full backup's.
		err = combine(ctx, d.binDir, b.Chain, d.dataDir)
		combined := *b
		combined.Manifest = filepath.Join(d.dataDir, "backup_manifest")
		verified = &combined
		how = fmt.Sprintf("chain of %d backups combined with pg_combinebackup", len(b.Chain))
	} else {
		err = b.Restore(d.dataDir)
	}
	copied := time.Since(copyStart)
	verifyStart := time.Now()
	if err == nil {
		err = verifyManifest(ctx, d.binDir, verified, d.dataDir, d.a)
	}
	return fmt.Sprintf("%s to a scratch directory in %.1f s; manifest checked with pg_verifybackup in %.1f s",
		how, copied.Seconds(), time.Since(verifyStart).Seconds()), err
}

// recover starts the scratch server, lets it recover to the target and promote, within Timeout.
func (d *drill) recover(ctx context.Context) bool {
	began := time.Now()
	var err error
	d.srv, err = start(d.binDir, d.dataDir, d.scratch, d.port, filepath.Join(d.scratch, "server.log"), d.cred, d.settings)
	if err == nil && testHookRecovering != nil {
		testHookRecovering()
	}
	if err == nil {
		rctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
		err = d.srv.waitPromoted(rctx, d.o.User)
		cancel()
	}
	recoveryDetail, rerr := d.r.readRecovery(d.srv, d.o, err)
	return d.r.step("recover", began, rerr, recoveryDetail) != nil
}

// assert proves the data is there: the sentinel and the checks.
func (d *drill) assert(ctx context.Context) bool {
	began := time.Now()
	detail, err := assertData(ctx, d.srv, d.o)
	return d.r.step("assert", began, err, detail) != nil
}

// amcheck runs pg_amcheck over every table and B-tree index, when asked.
func (d *drill) amcheck(ctx context.Context) bool {
	if !d.o.Amcheck {
		return false
	}
	began := time.Now()
	out, err := exec.CommandContext(ctx, filepath.Join(d.binDir, "pg_amcheck"), "--install-missing", "--heapallindexed",
		"-h", d.scratch, "-p", fmt.Sprint(d.port), "-U", d.o.User, "--all").CombinedOutput()
	if err != nil {
		err = fmt.Errorf("pg_amcheck found corruption or could not run: %w: %s", err, tail(string(out), 5))
	}
	return d.r.step("pg_amcheck", began, err, "every table and B-tree index checked (heapallindexed)") != nil
}

// ownedDataDir makes the empty data directory a restore tool (pgBackRest, barman-cloud-restore)
// fills as the scratch server's user.
func ownedDataDir(scratch, dataDir string, acct *osAccount) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(scratch, 0o755); err != nil {
		return err
	}
	return chownTree(scratch, acct)
}

// preflight checks the backup and the archive before anything is copied.
func preflight(o Options, acct *osAccount) (*Backup, *Archive, string, string, error) {
	b, err := InspectBackup(o.BaseBackup)
	if err != nil {
		return nil, nil, "", "", err
	}
	if b.Manifest == "" {
		return b, nil, "", "", fmt.Errorf("%w in %s: without it nothing proves the files are the backup's; take backups with pg_basebackup 13+ (manifests are on by default)", ErrNoManifest, o.BaseBackup)
	}
	binDir := o.BinDir
	if binDir == "" {
		if binDir, err = BinDir(b.Version); err != nil {
			return b, nil, "", "", err
		}
	}
	chained := ""
	if len(o.Increments) > 0 {
		if b, err = InspectChain(binDir, o.BaseBackup, o.Increments); err != nil {
			return nil, nil, binDir, "", err
		}
		chained = fmt.Sprintf(" (the newest of a chain: a full backup and %d increments, each taken against the one before)", len(o.Increments))
	}
	if o.MaxAge > 0 && o.Now().Sub(b.StartTime) > o.MaxAge {
		return b, nil, binDir, "", fmt.Errorf("the backup started %s ago, beyond --max-age %s: the recovery-point objective is not met", o.Now().Sub(b.StartTime).Round(time.Minute), o.MaxAge)
	}
	if !o.Target.IsZero() {
		if o.Target.Before(b.StartTime) {
			return b, nil, binDir, "", fmt.Errorf("the target %s is before the backup started (%s): restore from an older backup", o.Target.UTC().Format(time.RFC3339), b.StartTime.Format(time.RFC3339))
		}
	}
	a, err := ReadArchive(o.WALArchive)
	if err != nil {
		return b, nil, binDir, "", fmt.Errorf("WAL archive: %w", err)
	}
	// The backup's end, from its own record: the history file pg_backup_stop archived.
	ended := "its end time unknown (no " + BackupHistoryName(b.StartTimeline, b.StartLSN, a.SegmentSize) + " in the archive: a backup taken from a standby writes none; recovery checks consistency itself)"
	stop, _, histName, ok, err := a.BackupStop(b.StartTimeline, b.StartLSN)
	if err != nil {
		return b, a, binDir, "", fmt.Errorf("WAL archive: %w", err)
	}
	if ok {
		b.EndTime = stop
		ended = "ended " + stop.Format(time.RFC3339) + " (" + histName + ")"
		// STOP TIME is to the second, rounded down: the end lies within the second after it.
		if !o.Target.IsZero() && o.Target.Before(stop.Add(time.Second)) {
			return b, a, binDir, "", fmt.Errorf("the target %s is before the backup ended (%s, to the second, from %s): the restored files are not consistent until then; pick a later target or an older backup",
				o.Target.UTC().Format(time.RFC3339Nano), stop.Format(time.RFC3339), histName)
		}
	}
	latest := a.Latest()
	if !a.Descends(latest, b.StartTimeline, b.StartLSN) {
		return b, a, binDir, "", fmt.Errorf("the archive's newest timeline %d does not descend from the backup's timeline %d after its start %s (its history file says otherwise): WAL from another cluster or an older failover", latest, b.StartTimeline, b.StartLSN)
	}
	gap, last := a.Continuity(b.StartLSN, b.StartTimeline, latest)
	if gap != nil {
		return b, a, binDir, "", fmt.Errorf("WAL segment %s (timeline %d) is missing from the archive: recovery cannot go past it", gap.Segment, gap.Timeline)
	}
	// Every segment's header must belong to this cluster, timeline and position.
	sysID, err := controlSystemID(binDir, b)
	if err != nil {
		return b, a, binDir, "", err
	}
	first := uint64(b.StartLSN) / uint64(a.SegmentSize)
	checked := 0
	for t, nos := range a.Segments {
		for _, n := range nos {
			name := Segment{t, n}.Name(a.SegmentSize)
			if n < first && t == b.StartTimeline {
				// Older than this backup: the WAL of older backups' restores. Its pages are
				// checked too (a damaged one breaks those restores); its system identifier is not
				// (an archive may hold a cluster's WAL from before a pg_upgrade).
				if err := CheckPages(filepath.Join(a.Dir, name), Segment{t, n}, a.SegmentSize, a.Ancestry(t)); err != nil {
					return b, a, binDir, "", fmt.Errorf("archive integrity: %w; this backup's restores do not read it, but restores of older backups to any point past that page fail: restore the segment from another copy", err)
				}
				checked++
				continue
			}
			h, err := ReadSegmentHeader(filepath.Join(a.Dir, name))
			switch {
			case errors.Is(err, os.ErrPermission):
				// Not damage: an archiver whose umask keeps its files to itself, read by another user.
				return b, a, binDir, "", fmt.Errorf("WAL segment %s: permission denied to this OS user (%s): run the drill as the archive's owner (as root, pgtune runs the scratch server as the owner), or make the archive readable to this user", name, osUserName())
			case err != nil:
				return b, a, binDir, "", fmt.Errorf("WAL segment %s: %w (a corrupted or truncated file)", name, err)
			case sysID != 0 && h.SystemID != sysID:
				return b, a, binDir, "", fmt.Errorf("WAL segment %s belongs to another cluster (system identifier %d, the backup's is %d)", name, h.SystemID, sysID)
			case h.Timeline != t || uint64(h.PageAddr) != n*uint64(a.SegmentSize):
				return b, a, binDir, "", fmt.Errorf("WAL segment %s's header says timeline %d at %s: a corrupted or renamed file", name, h.Timeline, h.PageAddr)
			}
			// Every page, not only the first: a damaged page recovery to this target never
			// reads still breaks a restore to an earlier point of this range.
			if err := CheckPages(filepath.Join(a.Dir, name), Segment{t, n}, a.SegmentSize, a.Ancestry(t)); err != nil {
				return b, a, binDir, "", fmt.Errorf("archive integrity: %w; restores to any point past that page fail: restore the segment from another copy, or take a new base backup after it", err)
			}
			checked++
		}
	}
	// restore_command runs as the scratch server's user: it must read every file recovery may
	// ask for (checked as root would not see it).
	if err := archiveReadable(a, acct); err != nil {
		return b, a, binDir, "", err
	}
	detail := fmt.Sprintf("PostgreSQL %d %s backup%s started %s on timeline %d at %s, %s; WAL continuous from %s to %s (timeline %d), every page header of the archive's %d segments checked",
		b.Version, b.Format, chained, b.StartTime.Format(time.RFC3339), b.StartTimeline, b.StartLSN, ended,
		Segment{b.StartTimeline, first}.Name(a.SegmentSize), last.Name(a.SegmentSize), latest, checked)
	if acct != nil {
		detail += fmt.Sprintf("; the scratch server runs as %s (%s), who can read every archived file", acct.Name, acct.How)
	}
	return b, a, binDir, detail, nil
}

// archiveReadable checks that the account restore_command runs as can read every file of the
// archive recovery may fetch (segments, timeline histories, backup history files).
func archiveReadable(a *Archive, acct *osAccount) error {
	entries, err := os.ReadDir(a.Dir)
	if err != nil {
		return err
	}
	who := "pgtune's own user"
	fix := "make the archive readable by it"
	if acct != nil {
		who = fmt.Sprintf("OS user %s (%s)", acct.Name, acct.How)
		fix = "pass --os-user with the archive's owner, or make the archive readable by " + acct.Name + " (a group it is in, with g+r)"
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !(len(n) == 24 || strings.HasSuffix(n, ".history") || strings.HasSuffix(n, ".backup")) {
			continue
		}
		if ok, why := acct.canRead(filepath.Join(a.Dir, n)); !ok {
			return fmt.Errorf("the scratch server runs as %s, which cannot read %s of the WAL archive (%s): recovery would fail with \"could not locate required checkpoint record\"; %s", who, n, why, fix)
		}
	}
	return nil
}

// controlSystemID reads the backup's database system identifier with pg_controldata (plain
// backups; a tar backup's is checked after extraction by recovery itself).
func controlSystemID(binDir string, b *Backup) (uint64, error) {
	if b.Format != "plain" {
		return 0, nil
	}
	out, err := exec.Command(filepath.Join(binDir, "pg_controldata"), b.Dir).Output()
	if err != nil {
		return 0, fmt.Errorf("pg_controldata %s: %w", b.Dir, err)
	}
	m := regexp.MustCompile(`Database system identifier:\s+(\d+)`).FindSubmatch(out)
	if m == nil {
		return 0, errors.New("pg_controldata printed no system identifier")
	}
	var id uint64
	fmt.Sscan(string(m[1]), &id)
	return id, nil
}

// verifyManifest runs pg_verifybackup on the restored copy (before pgtune adds its own files),
// parsing the WAL the backup needs from the backup itself or from the archive.
func verifyManifest(ctx context.Context, binDir string, b *Backup, dataDir string, a *Archive) error {
	args := []string{"-m", b.Manifest}
	if !b.HasWAL {
		args = append(args, "-w", a.Dir)
	}
	args = append(args, dataDir)
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "pg_verifybackup"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_verifybackup: the backup does not match its manifest: %s", tail(strings.TrimSpace(string(out)), 3))
	}
	return nil
}

// configure makes the restored directory a scratch server that recovers from the archive to the
// target and touches nothing outside the scratch directory. It returns the settings to start the
// server with: on the command line they win over anything the backup's configuration files say
// (a data_directory or hba_file pointing at production, a preloaded pg_cron, archiving).
func configure(dataDir, scratch string, port int, restoreCommand string, target time.Time) ([]string, error) {
	for _, f := range []string{"postgresql.conf", "pg_ident.conf"} {
		p := filepath.Join(dataDir, f)
		if !exists(p) {
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				return nil, err
			}
		}
	}
	// Only local connections, trusted: nobody else can reach a socket in the scratch directory.
	if err := os.WriteFile(filepath.Join(dataDir, "pg_hba.conf"), []byte("local all all trust\n"), 0o600); err != nil {
		return nil, err
	}
	settings := []string{
		"data_directory=" + dataDir,
		"hba_file=" + filepath.Join(dataDir, "pg_hba.conf"),
		"ident_file=" + filepath.Join(dataDir, "pg_ident.conf"),
		"listen_addresses=",
		fmt.Sprintf("port=%d", port),
		"unix_socket_directories=" + scratch,
		"archive_mode=off",
		"shared_preload_libraries=",
		"max_logical_replication_workers=0",
		// No queries during recovery: with hot_standby the server would also demand the source's
		// max_connections and worker counts, which a small scratch server need not match.
		"hot_standby=off",
		"shared_buffers=128MB",
		"max_connections=20",
		"huge_pages=off",
		"logging_collector=off",
		"log_destination=stderr",
		"log_line_prefix=%m [%p] ",
		"log_timezone=UTC",
		"timezone=UTC",
		"primary_conninfo=",
	}
	if restoreCommand != "" {
		settings = append(settings, "restore_command="+restoreCommand,
			"recovery_target_action=promote", "recovery_target_timeline=latest")
		if !target.IsZero() {
			settings = append(settings, "recovery_target_time="+target.UTC().Format("2006-01-02 15:04:05.999999+00"))
		}
	}
	// No standby.signal: a standby would wait for more WAL forever. The source's postmaster.pid
	// means nothing here.
	os.Remove(filepath.Join(dataDir, "postmaster.pid"))
	os.Remove(filepath.Join(dataDir, "standby.signal"))
	return settings, os.WriteFile(filepath.Join(dataDir, "recovery.signal"), nil, 0o600)
}

// readRecovery reads what recovery did from the server's log.
func (r *Report) readRecovery(srv *server, o Options, waitErr error) (string, error) {
	var lines []string
	if srv != nil {
		lines = srv.logLines()
	}
	var fatal, invalid string
	for _, l := range lines {
		if m := stoppingRe.FindStringSubmatch(l); m != nil {
			if t, err := parsePGTime(m[1]); err == nil {
				r.StoppedAt = &t
			}
		}
		if m := lastTxRe.FindStringSubmatch(l); m != nil {
			if t, err := parsePGTime(m[1]); err == nil {
				r.LastReplayed = &t
			}
		}
		if m := newTimelineRe.FindStringSubmatch(l); m != nil {
			var tli uint32
			fmt.Sscan(m[1], &tli)
			r.Timeline = tli
		}
		// The drill's own connection attempts while recovery runs are refused with a FATAL too.
		if strings.Contains(l, "FATAL:") && fatal == "" && !refusedRe.MatchString(l) {
			if m := endedEarlyRe.FindStringSubmatch(l); m != nil {
				fatal = strings.TrimSpace(m[1])
			}
		}
		if m := invalidWALRe.FindString(l); m != "" && invalid == "" {
			invalid = m
		}
	}
	if waitErr != nil || fatal != "" {
		msg := "recovery failed"
		switch {
		case strings.Contains(fatal, "recovery ended before configured recovery target was reached"):
			msg = "the archive ends before the target: recovery replayed everything"
			if r.LastReplayed != nil {
				msg += fmt.Sprintf(" up to a commit at %s", r.LastReplayed.Format(time.RFC3339Nano))
			}
			if o.PgBackRest != nil || o.Barman != nil {
				// The tool's restore_command fails the same way for a segment the store lacks or
				// holds damaged as for the archive's real end.
				msg += " and found no commit after the target: a WAL object missing or damaged in the store ends recovery just so (check the repository: pgbackrest verify, or the store's WAL listing), else write a sentinel after the target or pick an earlier one"
			} else {
				msg += " and found no commit after the target (write a sentinel after it, or pick an earlier target)"
			}
		case strings.Contains(fatal, "before consistent recovery point"):
			msg = "the target is before the backup became consistent: pick a later target or an older backup"
		case fatal != "":
			msg = "recovery failed: " + fatal
		case waitErr != nil:
			msg = "recovery did not finish: " + waitErr.Error()
		}
		if invalid != "" {
			msg += "; the WAL is damaged: " + invalid
		}
		if o.Barman != nil {
			// Pre-flight read the store, so a WAL fetch that failed now is the store's doing.
			msg += fmt.Sprintf("; restore_command is barman-cloud-wal-restore: if the store at %s went unreachable or refused it mid-recovery, rerun the drill once it answers", o.Barman.storeName())
		}
		return "", errors.New(msg)
	}
	if !o.Target.IsZero() {
		if r.StoppedAt == nil {
			return "", errors.New("the server promoted without reporting where recovery stopped: the target was not reached")
		}
		if r.LastReplayed != nil && r.LastReplayed.After(o.Target) {
			return "", fmt.Errorf("recovery replayed a commit at %s, after the target %s", r.LastReplayed.Format(time.RFC3339Nano), o.Target.UTC().Format(time.RFC3339Nano))
		}
		if r.LastReplayed != nil {
			r.DataLoss = o.Target.Sub(*r.LastReplayed)
		}
	}
	detail := "recovered to the end of the archive and promoted"
	if r.StoppedAt != nil {
		detail = fmt.Sprintf("stopped before the first commit after the target (%s) and promoted", r.StoppedAt.Format(time.RFC3339Nano))
	}
	if r.LastReplayed != nil {
		detail += fmt.Sprintf("; last replayed commit at %s", r.LastReplayed.Format(time.RFC3339Nano))
		if !o.Target.IsZero() {
			detail += fmt.Sprintf(", %s before the target", r.DataLoss.Round(time.Millisecond))
		}
	}
	if r.Timeline > 0 {
		detail += fmt.Sprintf("; new timeline %d", r.Timeline)
	}
	return detail, nil
}

// assertData runs the sentinel check and the --check queries on the promoted server.
func assertData(ctx context.Context, srv *server, o Options) (string, error) {
	conn, err := pgx.Connect(ctx, srv.dsn(o.User, o.Database))
	if err != nil {
		return "", fmt.Errorf("the promoted server does not accept queries as %s in %s: %w", o.User, o.Database, err)
	}
	defer conn.Close(context.Background())
	var notes []string
	target := o.Target
	if target.IsZero() {
		target = time.Now().Add(time.Hour) // latest: every row counts as before
	}
	before, after, has, err := sentinelAround(ctx, conn, target)
	if err != nil {
		return "", fmt.Errorf("sentinel: %w", err)
	}
	if has {
		if after != nil {
			return "", fmt.Errorf("sentinel row %d written at %s, after the target, is in the restored database: recovery went past the target", after.Counter, after.At.Format(time.RFC3339Nano))
		}
		if before == nil {
			return "", errors.New("the sentinel table is empty in the restored database: no heartbeat before the target survived")
		}
		note := fmt.Sprintf("sentinel: newest row %d at %s", before.Counter, before.At.Format(time.RFC3339Nano))
		if o.SentinelDSN != "" && !o.Target.IsZero() {
			live, err := pgx.Connect(ctx, o.SentinelDSN)
			if err != nil {
				return "", fmt.Errorf("sentinel: cannot read the live heartbeats: %w", err)
			}
			lb, la, _, err := sentinelAround(ctx, live, o.Target)
			live.Close(context.Background())
			if err != nil {
				return "", fmt.Errorf("sentinel: live: %w", err)
			}
			if lb != nil && lb.Counter != before.Counter {
				return "", fmt.Errorf("sentinel: the live row just before the target is %d (%s), the restored database's newest is %d: rows between them were lost", lb.Counter, lb.At.Format(time.RFC3339Nano), before.Counter)
			}
			if la != nil {
				note += fmt.Sprintf(" (the live row just before the target); row %d, written just after it, is absent", la.Counter)
			}
		} else if !o.Target.IsZero() {
			note += fmt.Sprintf(", %s before the target; no row after it", o.Target.Sub(before.At).Round(time.Millisecond))
		}
		notes = append(notes, note)
	}
	for _, q := range o.Checks {
		var ok bool
		if err := conn.QueryRow(ctx, q).Scan(&ok); err != nil {
			return "", fmt.Errorf("check %q: %w (a check returns one boolean, e.g. SELECT count(*) > 0 FROM payments)", q, err)
		}
		if !ok {
			return "", fmt.Errorf("check %q returned false", q)
		}
		notes = append(notes, "check passed: "+q)
	}
	if len(notes) == 0 {
		notes = append(notes, fmt.Sprintf("the promoted server accepts queries in %s (no sentinel table and no --check given)", o.Database))
	}
	return strings.Join(notes, "; "), nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
