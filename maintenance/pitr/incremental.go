package pitr

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// An incremental chain (PostgreSQL 17+): a full base backup and the increments taken after it with
// pg_basebackup --incremental, each against the backup before it. pg_combinebackup turns the
// chain into one restorable data directory.

// InspectChain reads a full backup and its increments, oldest first, and checks they form one
// chain: every increment is plain (pg_combinebackup reads no tar), has its manifest, was taken
// from the same cluster, and was taken against the backup just before it in the chain, so a
// missing or misplaced increment is named before anything is copied. It returns the newest
// backup, with the chain in Chain.
func InspectChain(binDir, full string, increments []string) (*Backup, error) {
	base, err := InspectBackup(full)
	if err != nil {
		return nil, err
	}
	if base.IncrementalFrom != 0 {
		return nil, fmt.Errorf("%s is itself an incremental backup (taken against %s): the chain must start with a full backup", full, base.IncrementalFrom)
	}
	chain := []*Backup{base}
	prev := base
	sysID, err := controlSystemID(binDir, base)
	if err != nil {
		return nil, err
	}
	for _, dir := range increments {
		b, err := InspectBackup(dir)
		if err != nil {
			return nil, err
		}
		switch {
		case b.Format != "plain" || prev.Format != "plain":
			return nil, fmt.Errorf("%s: pg_combinebackup combines plain-format backups only (pg_basebackup -F p)", dir)
		case b.Version < 17:
			return nil, fmt.Errorf("%s: incremental backups are PostgreSQL 17's; this is %d", dir, b.Version)
		case b.IncrementalFrom == 0:
			return nil, fmt.Errorf("%s is a full backup, not an increment: start the chain with it instead", dir)
		case b.Manifest == "":
			return nil, fmt.Errorf("%w in %s: an increment without its manifest cannot be combined or checked", ErrNoManifest, dir)
		case b.IncrementalFrom != prev.StartLSN || b.IncrementalFromTimeline != prev.StartTimeline:
			return nil, fmt.Errorf("the chain is broken at %s: it was taken against a backup that started at %s (timeline %d), but the backup before it in the chain (%s) started at %s (timeline %d): an increment is missing or out of order",
				dir, b.IncrementalFrom, b.IncrementalFromTimeline, prev.Dir, prev.StartLSN, prev.StartTimeline)
		}
		if id, err := controlSystemID(binDir, b); err != nil {
			return nil, err
		} else if sysID != 0 && id != 0 && id != sysID {
			return nil, fmt.Errorf("%s belongs to another cluster (system identifier %d, the full backup's is %d)", dir, id, sysID)
		}
		chain = append(chain, b)
		prev = b
	}
	prev.Chain = chain
	return prev, nil
}

// combine runs pg_combinebackup over the chain into dir (which must not exist yet), checking the
// increments' own checksums and that each is the next of the chain.
func combine(ctx context.Context, binDir string, chain []*Backup, dir string) error {
	args := []string{"-o", dir}
	for _, b := range chain {
		args = append(args, b.Dir)
	}
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "pg_combinebackup"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_combinebackup could not combine the chain: %s", tail(strings.TrimSpace(string(out)), 3))
	}
	return os.Chmod(dir, 0o700)
}
