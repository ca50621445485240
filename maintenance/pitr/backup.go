// Package pitr is pgtune's restore drill: it proves a base backup and its WAL archive recover to
// a point in time. backup.go reads the base backup (plain or tar, with its backup_manifest);
// wal.go the archive (segments, timelines, continuity, headers); server.go runs the scratch
// server; drill.go the steps and the report; sentinel.go the heartbeat rows that give every drill
// a known target.
package pitr

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Backup is what a base backup directory says of itself.
type Backup struct {
	Dir string
	// Format is "plain" (a data directory) or "tar" (base.tar[.gz] and pg_wal.tar[.gz]).
	Format string
	// Manifest is the backup_manifest's path ("" when missing).
	Manifest string
	// Version is the PostgreSQL major the backup was taken from (PG_VERSION).
	Version int
	// StartLSN, StartTimeline and StartTime come from backup_label; EndLSN from the manifest's
	// WAL ranges; EndTime is the STOP TIME of the backup's history file in the WAL archive (to the
	// second; zero when the archive has none), set by the drill's pre-flight. File times are never
	// used: a copy without -p changes them.
	StartLSN      LSN
	StartTimeline uint32
	StartTime     time.Time
	EndLSN        LSN
	EndTime       time.Time
	// HasWAL: the backup carries the WAL it needs (pg_basebackup -X fetch/stream).
	HasWAL bool
	// IncrementalFrom and IncrementalFromTimeline are set for an incremental backup (17+,
	// pg_basebackup --incremental): the start of the backup it was taken against.
	IncrementalFrom         LSN
	IncrementalFromTimeline uint32
	// Chain, on the newest backup of an incremental chain, lists the whole chain oldest first
	// (the full backup, then each increment); Restore combines it with pg_combinebackup.
	Chain []*Backup
}

// ErrNoManifest means the backup has no backup_manifest to check it against.
var ErrNoManifest = errors.New("no backup_manifest")

// InspectBackup reads dir, a pg_basebackup output.
func InspectBackup(dir string) (*Backup, error) {
	b := &Backup{Dir: dir}
	var label, version []byte
	switch {
	case exists(filepath.Join(dir, "PG_VERSION")):
		b.Format = "plain"
		var err error
		if label, err = os.ReadFile(filepath.Join(dir, "backup_label")); err != nil {
			return nil, fmt.Errorf("%s has no backup_label: not a base backup (a copy of a running data directory cannot be restored)", dir)
		}
		version, _ = os.ReadFile(filepath.Join(dir, "PG_VERSION"))
		b.HasWAL = hasSegments(filepath.Join(dir, "pg_wal"))
	case baseTar(dir) != "":
		b.Format = "tar"
		files, err := readTarFiles(baseTar(dir), "backup_label", "PG_VERSION")
		if err != nil {
			return nil, err
		}
		label, version = files["backup_label"], files["PG_VERSION"]
		if label == nil {
			return nil, fmt.Errorf("%s holds no backup_label: not a pg_basebackup archive", baseTar(dir))
		}
		b.HasWAL = walTar(dir) != ""
	default:
		return nil, fmt.Errorf("%s is not a base backup: no PG_VERSION (plain format) nor base.tar (tar format)", dir)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(version)))
	if err != nil {
		return nil, fmt.Errorf("PG_VERSION %q is not a major version", version)
	}
	b.Version = v
	if err := b.parseLabel(string(label)); err != nil {
		return nil, err
	}
	if m := filepath.Join(dir, "backup_manifest"); exists(m) {
		b.Manifest = m
		if err := b.parseManifest(m); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (b *Backup) parseLabel(label string) error {
	for _, line := range strings.Split(label, "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		switch k {
		case "START WAL LOCATION":
			fields := strings.Fields(v)
			if len(fields) == 0 {
				return errors.New("backup_label: START WAL LOCATION is empty")
			}
			lsn, err := ParseLSN(fields[0])
			if err != nil {
				return fmt.Errorf("backup_label: %w", err)
			}
			b.StartLSN = lsn
		case "START TIMELINE":
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return fmt.Errorf("backup_label: timeline %q", v)
			}
			b.StartTimeline = uint32(n)
		case "INCREMENTAL FROM LSN":
			lsn, err := ParseLSN(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("backup_label: incremental from: %w", err)
			}
			b.IncrementalFrom = lsn
		case "INCREMENTAL FROM TLI":
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return fmt.Errorf("backup_label: incremental timeline %q", v)
			}
			b.IncrementalFromTimeline = uint32(n)
		case "START TIME":
			t, err := parsePGTime(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("backup_label: start time: %w", err)
			}
			b.StartTime = t
		}
	}
	if b.StartLSN == 0 || b.StartTimeline == 0 {
		return errors.New("backup_label lacks START WAL LOCATION or START TIMELINE")
	}
	return nil
}

func (b *Backup) parseManifest(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m struct {
		WALRanges []struct {
			Timeline uint32 `json:"Timeline"`
			Start    string `json:"Start-LSN"`
			End      string `json:"End-LSN"`
		} `json:"WAL-Ranges"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("backup_manifest is not a manifest: %w", err)
	}
	for _, r := range m.WALRanges {
		if end, err := ParseLSN(r.End); err == nil && end > b.EndLSN {
			b.EndLSN = end
		}
	}
	return nil
}

// ParseTime reads a time as PostgreSQL writes it in backup labels and logs
// ("2026-11-27 03:00:00.123+00", "... UTC") or as RFC 3339; the zone is required.
func ParseTime(s string) (time.Time, error) { return parsePGTime(s) }

func parsePGTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05 MST", "2006-01-02 15:04:05.999999-07", "2006-01-02 15:04:05.999999-07:00", "2006-01-02 15:04:05.999999 MST"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func hasSegments(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if len(e.Name()) == 24 {
			return true
		}
	}
	return false
}

func firstExisting(dir string, names ...string) string {
	for _, n := range names {
		if p := filepath.Join(dir, n); exists(p) {
			return p
		}
	}
	return ""
}

func baseTar(dir string) string { return firstExisting(dir, "base.tar", "base.tar.gz") }
func walTar(dir string) string  { return firstExisting(dir, "pg_wal.tar", "pg_wal.tar.gz") }

// openTar opens a tar file, gunzipping .gz.
func openTar(path string) (*tar.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	var r io.Reader = bufio.NewReaderSize(f, 1<<20)
	closeAll := f.Close
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		r = zr
	}
	return tar.NewReader(r), closeAll, nil
}

// readTarFiles reads the named top-level files of a tar.
func readTarFiles(path string, names ...string) (map[string][]byte, error) {
	tr, closeFn, err := openTar(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string][]byte{}
	for len(out) < len(names) {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		if want[name] {
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			out[name] = data
		}
	}
	return out, nil
}

// extractTar unpacks a tar into dir, refusing paths that leave it.
func extractTar(path, dir string) error {
	tr, closeFn, err := openTar(path)
	if err != nil {
		return err
	}
	defer closeFn()
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		target := filepath.Join(dir, filepath.Clean("/"+h.Name))
		mode := fs.FileMode(h.Mode) & 0o777
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode|0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			return fmt.Errorf("%s holds a symbolic link (%s): tablespaces are not supported by the drill yet", path, h.Name)
		}
	}
}

// copyTree copies a plain backup into dir.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symbolic link: tablespaces are not supported by the drill yet", p)
		}
		if rel == "backup_manifest" {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// Restore lays the backup out as a data directory in dir (copying or extracting it).
func (b *Backup) Restore(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if b.Format == "plain" {
		return copyTree(b.Dir, dir)
	}
	if err := extractTar(baseTar(b.Dir), dir); err != nil {
		return err
	}
	if w := walTar(b.Dir); w != "" {
		return extractTar(w, filepath.Join(dir, "pg_wal"))
	}
	return nil
}
