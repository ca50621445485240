package pitr

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PgBackRest is the drill's second source: a pgBackRest stanza. pgBackRest restores the backup
// (checking every file's checksum as it goes) and writes the recovery settings, its own
// archive-get as restore_command; the drill isolates, recovers and asserts as for a base backup.
type PgBackRest struct {
	Stanza string
	// Config is pgbackrest.conf's path ("" for pgBackRest's default).
	Config string
	// Binary is the pgbackrest program ("pgbackrest" on PATH by default).
	Binary string
}

func (p *PgBackRest) args(cmd string, extra ...string) []string {
	args := []string{"--stanza=" + p.Stanza}
	if p.Config != "" {
		args = append(args, "--config="+p.Config)
	}
	// Options go before the command, a positional argument (repo-ls's path) after it.
	var positional []string
	for _, e := range extra {
		if strings.HasPrefix(e, "--") {
			args = append(args, e)
		} else {
			positional = append(positional, e)
		}
	}
	return append(append(args, cmd), positional...)
}

func (p *PgBackRest) run(ctx context.Context, cred *syscall.Credential, cmd string, extra ...string) ([]byte, error) {
	bin := p.Binary
	if bin == "" {
		bin = "pgbackrest"
	}
	c := exec.CommandContext(ctx, bin, p.args(cmd, extra...)...)
	c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := c.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("pgbackrest %s: %w: %s", cmd, err, tail(strings.TrimSpace(string(out)), 3))
	}
	return out, nil
}

// backrestInfo is the part of `pgbackrest info --output=json` the drill reads.
type backrestInfo struct {
	Name   string `json:"name"`
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
	// Repo is each repository's own status: where an object store's refusal is said.
	Repo []struct {
		Key    int `json:"key"`
		Status struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"status"`
	} `json:"repo"`
	Backup []struct {
		Label     string `json:"label"`
		Type      string `json:"type"`
		Timestamp struct {
			Start int64 `json:"start"`
			Stop  int64 `json:"stop"`
		} `json:"timestamp"`
		Archive struct {
			Start string `json:"start"`
			Stop  string `json:"stop"`
		} `json:"archive"`
		Error *bool `json:"error"`
	} `json:"backup"`
	Archive []struct {
		ID  string `json:"id"`
		Min string `json:"min"`
		Max string `json:"max"`
	} `json:"archive"`
	DB []struct {
		Version string `json:"version"`
	} `json:"db"`
}

// backrestSet is the backup set a drill restores.
type backrestSet struct {
	Version     int
	Label       string
	Start, Stop time.Time
	WALStart    string
	WALMax      string
	// NewestWAL is the newest WAL file in the stanza's archive and Lag its age (repo-ls's times).
	NewestWAL string
	Lag       time.Duration
}

// preflightPgBackRest reads the stanza, picks the newest backup that ended before the target, and
// checks its age, the archive's range and the repository (pgbackrest verify).
func preflightPgBackRest(ctx context.Context, p *PgBackRest, o Options, cred *syscall.Credential) (*backrestSet, string, error) {
	out, err := p.run(ctx, cred, "info", "--output=json")
	if err != nil {
		return nil, "", err
	}
	var infos []backrestInfo
	if err := json.Unmarshal(out, &infos); err != nil || len(infos) == 0 {
		return nil, "", fmt.Errorf("pgbackrest info: unreadable output: %w", err)
	}
	info := infos[0]
	if info.Status.Code != 0 && len(info.Backup) == 0 {
		msg := info.Status.Message
		for _, r := range info.Repo {
			if r.Status.Code != 0 {
				msg += fmt.Sprintf("; repo%d: %s", r.Key, r.Status.Message)
			}
		}
		return nil, "", fmt.Errorf("stanza %s: %s%s", p.Stanza, msg, repoFix(msg))
	}
	var set *backrestSet
	for _, b := range info.Backup {
		stop := time.Unix(b.Timestamp.Stop, 0).UTC()
		if b.Error != nil && *b.Error {
			continue // a backup with page checksum errors
		}
		if o.Target.IsZero() || !stop.After(o.Target) {
			set = &backrestSet{Label: b.Label, Start: time.Unix(b.Timestamp.Start, 0).UTC(), Stop: stop, WALStart: b.Archive.Start}
		}
	}
	if set == nil {
		return nil, "", fmt.Errorf("stanza %s holds no backup that ended before the target %s", p.Stanza, o.Target.Format(time.RFC3339))
	}
	if o.MaxAge > 0 && o.Now().Sub(set.Start) > o.MaxAge {
		return set, "", fmt.Errorf("the newest usable backup (%s) started %s ago, beyond --max-age %s: the recovery-point objective is not met", set.Label, o.Now().Sub(set.Start).Round(time.Minute), o.MaxAge)
	}
	if n := len(info.DB); n > 0 {
		fmt.Sscan(info.DB[n-1].Version, &set.Version)
	}
	for _, a := range info.Archive {
		if a.Max > set.WALMax {
			set.WALMax = a.Max
		}
	}
	if set.WALMax == "" || set.WALMax < set.WALStart {
		return set, "", fmt.Errorf("the stanza's archive holds no WAL from the backup's start %s on", set.WALStart)
	}
	// pgbackrest verify checks what the repository holds but not what it lacks: the WAL from
	// the backup's start to the archive's end, segment by segment, is checked here.
	if err := backrestContinuity(ctx, p, cred, info, set, o.Now()); err != nil {
		return set, "", err
	}
	out, err = p.run(ctx, cred, "verify", "--log-level-console=info")
	o.Log.Debug("pgbackrest verify", "output", string(out))
	if err != nil {
		return set, "", fmt.Errorf("the repository does not verify (a file's checksum, or a gap in the WAL): %w", err)
	}
	// verify exits 0 even when it found invalid files: its report says so ("status: error").
	if bad := verifyProblems(string(out)); bad != "" {
		return set, "", fmt.Errorf("pgbackrest verify found damaged files in the repository: %s; restore them from another copy of the repository, or take a new backup (and check the store)", bad)
	}
	detail := fmt.Sprintf("pgBackRest stanza %s: backup %s started %s, ended %s; WAL archived from %s to %s, every segment between present (repo-ls); pgbackrest verify passed",
		p.Stanza, set.Label, set.Start.Format(time.RFC3339), set.Stop.Format(time.RFC3339), set.WALStart, set.WALMax)
	if set.NewestWAL != "" {
		detail += fmt.Sprintf("; newest archived WAL %s, %s ago", set.NewestWAL, set.Lag.Round(time.Second))
	}
	return set, detail, nil
}

// restorePgBackRest restores the set into dataDir with the recovery target; pgBackRest writes the
// recovery settings (its archive-get as restore_command) and recovery.signal.
func restorePgBackRest(ctx context.Context, p *PgBackRest, set *backrestSet, dataDir string, target time.Time, cred *syscall.Credential) error {
	extra := []string{"--pg1-path=" + dataDir, "--set=" + set.Label, "--archive-mode=off", "--target-action=promote", "--log-level-console=warn"}
	if target.IsZero() {
		extra = append(extra, "--type=default")
	} else {
		extra = append(extra, "--type=time", "--target="+target.UTC().Format("2006-01-02 15:04:05.999999+00"))
	}
	_, err := p.run(ctx, cred, "restore", extra...)
	return err
}

// repoFix names the fix for what a repository in an object store answered.
func repoFix(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "403") || strings.Contains(m, "forbidden") || strings.Contains(m, "invalidaccesskeyid") || strings.Contains(m, "signaturedoesnotmatch") || strings.Contains(m, "accessdenied"):
		return " (the object store refused pgBackRest's credentials: check repo1-s3-key and repo1-s3-key-secret in the pgBackRest configuration, or PGBACKREST_REPO1_S3_KEY and PGBACKREST_REPO1_S3_KEY_SECRET in the environment)"
	case strings.Contains(m, "nosuchbucket") || strings.Contains(m, "404"):
		return " (the bucket or the repository path is not in the store: check repo1-s3-bucket and repo1-path)"
	case strings.Contains(m, "unable to connect") || strings.Contains(m, "connection refused") || strings.Contains(m, "hostconnecterror") || strings.Contains(m, "unable to get address"):
		return " (the object store is unreachable: check repo1-s3-endpoint, repo1-storage-port and the network)"
	case strings.Contains(m, "certificate") || strings.Contains(m, "tls"):
		return " (TLS to the object store failed: check repo1-storage-ca-file, or the endpoint's certificate)"
	}
	return ""
}

// verifyProblems is what pgbackrest verify's info-level report says is wrong: its "invalid
// result" lines and its per-stanza status, or "" when it found nothing.
func verifyProblems(out string) string {
	var bad []string
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case strings.Contains(t, "INFO: invalid result "):
			bad = append(bad, strings.TrimSpace(t[strings.Index(t, "invalid result "):]))
		case strings.HasPrefix(t, "status: error"), strings.HasPrefix(t, "archiveId:") && len(bad) > 0,
			strings.HasPrefix(t, "missing:"), strings.HasPrefix(t, "checksum invalid:"), strings.HasPrefix(t, "size invalid:"), strings.HasPrefix(t, "other:"):
			bad = append(bad, t)
		}
	}
	return strings.Join(bad, "; ")
}

// backrestContinuity lists the stanza's archive (pgbackrest repo-ls) and checks that every
// segment from the backup's first WAL to the newest archived one, on the backup's timeline, is
// there: recovery stops at the first one missing.
func backrestContinuity(ctx context.Context, p *PgBackRest, cred *syscall.Credential, info backrestInfo, set *backrestSet, now time.Time) error {
	if len(set.WALStart) != 24 {
		return nil
	}
	tli := set.WALStart[:8]
	have := map[[2]uint64]bool{}
	var newest time.Time
	defer func() {
		if !newest.IsZero() {
			set.Lag = max(now.Sub(newest), 0)
		}
	}()
	for _, a := range info.Archive {
		if a.Max < set.WALStart {
			continue
		}
		out, err := p.run(ctx, cred, "repo-ls", "--recurse", "--output=json", "archive/"+p.Stanza+"/"+a.ID)
		if err != nil {
			return fmt.Errorf("listing the stanza's archive: %w", err)
		}
		var entries map[string]struct {
			Type string `json:"type"`
			Time int64  `json:"time"`
		}
		if err := json.Unmarshal(out, &entries); err != nil {
			return fmt.Errorf("pgbackrest repo-ls: unreadable output: %w", err)
		}
		for k, e := range entries {
			base := k[strings.LastIndex(k, "/")+1:]
			// SEGMENT-SHA1[.ext]: not a .history, .backup or .partial file.
			if e.Type != "file" || len(base) < 25 || base[24] != '-' || base[:8] != tli {
				continue
			}
			if log, seg, ok := logSeg(base[:24]); ok {
				have[[2]uint64{log, seg}] = true
			}
			// The archiving lag, from the repository's own times (to the second; the later name
			// breaks a tie).
			if t := time.Unix(e.Time, 0); e.Time > 0 && (t.After(newest) || t.Equal(newest) && base[:24] > set.NewestWAL) {
				newest, set.NewestWAL = t, base[:24]
			}
		}
	}
	startLog, startSeg, ok1 := logSeg(set.WALStart)
	endLog, endSeg, ok2 := logSeg(set.WALMax)
	if !ok1 || !ok2 || set.WALMax[:8] != tli {
		return nil // another timeline's end: recovery follows the history files, checked by restore
	}
	// Segments per log file (256 for 16 MB segments), from a log the archive finished: its
	// highest segment + 1, the highest over all such logs. With one log file there is no
	// rollover to know.
	perLog := uint64(0)
	for k := range have {
		if have[[2]uint64{k[0] + 1, 0}] {
			perLog = max(perLog, k[1]+1)
		}
	}
	for log, seg := startLog, startSeg; log < endLog || (log == endLog && seg <= endSeg); {
		if !have[[2]uint64{log, seg}] {
			return fmt.Errorf("WAL segment %s%08X%08X is missing from the stanza's archive (between the backup's first, %s, and the newest, %s): recovery cannot go past it; pgbackrest verify does not report a missing file", tli, log, seg, set.WALStart, set.WALMax)
		}
		seg++
		if perLog > 0 && seg >= perLog {
			log, seg = log+1, 0
		}
	}
	return nil
}

// logSeg splits a segment name's log and segment parts.
func logSeg(name string) (uint64, uint64, bool) {
	if len(name) != 24 {
		return 0, 0, false
	}
	log, err1 := strconv.ParseUint(name[8:16], 16, 32)
	seg, err2 := strconv.ParseUint(name[16:24], 16, 32)
	return log, seg, err1 == nil && err2 == nil
}
