package pitr

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bookedbarber/pgtune/internal/quote"
	"github.com/bookedbarber/pgtune/internal/s3"
)

// BarmanCloud is a backup kept in an object store by Barman's cloud tools, the commonest
// hand-rolled PITR set-up: archive_command = barman-cloud-wal-archive, nightly
// barman-cloud-backup. The store holds, under URL/SERVER/, base/BACKUP_ID/ (backup.info, written
// last, and the data tarballs) and wals/TLI+LOG/SEGMENT[.gz|.bz2|...]. The drill reads the
// listing itself (continuity, ages, each segment's header) and restores with the tools:
// barman-cloud-restore, and barman-cloud-wal-restore as restore_command. Credentials come from
// the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; AWS_CA_BUNDLE for a private CA),
// for pgtune and the tools alike: never from a flag.
type BarmanCloud struct {
	// URL is the tools' destination, s3://BUCKET[/PREFIX]; Server the --server-name.
	URL, Server string
	// Endpoint is the tools' --endpoint-url ("" for AWS).
	Endpoint string
	// Client reads the store (the same endpoint and credentials).
	Client *s3.Client
	// BinDir holds barman-cloud-restore and barman-cloud-wal-restore ("" for PATH).
	BinDir string
}

func (b *BarmanCloud) String() string {
	return "barman-cloud:" + strings.TrimSuffix(b.URL, "/") + "/" + b.Server
}

// Check refuses a source the tools could not have written: the URL must be s3://BUCKET[/PREFIX],
// the server a name, the endpoint an http(s) URL.
func (b *BarmanCloud) Check() error {
	if _, _, err := b.bucketPrefix(); err != nil {
		return err
	}
	if b.Server == "" || strings.ContainsAny(b.Server, "/ ") {
		return fmt.Errorf("--server-name %q: want the name barman-cloud-backup was given (no slash, no space)", b.Server)
	}
	if b.Endpoint != "" {
		if u, err := url.Parse(b.Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return fmt.Errorf("--endpoint-url %q: want https://HOST[:PORT] (credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, never in the URL)", quote.OneLine(b.Endpoint))
		}
	}
	return nil
}

// bucketPrefix splits the URL: the bucket and the key prefix of the server's objects.
func (b *BarmanCloud) bucketPrefix() (string, string, error) {
	u, err := url.Parse(b.URL)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return "", "", fmt.Errorf("--barman-cloud %q: want s3://BUCKET[/PREFIX], the destination barman-cloud-backup was given", b.URL)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	return u.Host, prefix + b.Server + "/", nil
}

// storeName is the endpoint (or AWS) and URL, for messages.
func (b *BarmanCloud) storeName() string {
	if b.Endpoint != "" {
		return b.Endpoint + " (" + b.URL + ")"
	}
	return b.URL
}

func (b *BarmanCloud) walURL() string {
	return strings.TrimSuffix(b.URL, "/") + "/" + b.Server + "/wals/"
}

func (b *BarmanCloud) tool(name string) string {
	if b.BinDir != "" {
		return path.Join(b.BinDir, name)
	}
	return name
}

// toolArgs are the arguments every barman-cloud tool takes before the destination.
func (b *BarmanCloud) toolArgs() []string {
	args := []string{"--cloud-provider", "aws-s3"}
	if b.Endpoint != "" {
		args = append(args, "--endpoint-url", b.Endpoint)
	}
	return args
}

// restoreCommand is the scratch server's restore_command: barman-cloud-wal-restore.
func (b *BarmanCloud) restoreCommand() string {
	args := append([]string{b.tool("barman-cloud-wal-restore")}, b.toolArgs()...)
	args = append(args, b.URL, b.Server)
	for i, a := range args {
		args[i] = quote.Shell(a)
	}
	return strings.Join(args, " ") + " %f %p"
}

// barmanSet is the backup the drill restores, from its backup.info.
type barmanSet struct {
	ID         string
	Begin, End time.Time
	BeginLSN   LSN
	Timeline   uint32
	Version    int
	SegSize    int64
	SystemID   uint64
	// NewestWAL is the newest segment in the store and Lag its age.
	NewestWAL string
	Lag       time.Duration
}

// parseBackupInfo reads barman's backup.info (key=value lines).
func parseBackupInfo(data []byte) (map[string]string, error) {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if kv["status"] == "" || kv["begin_xlog"] == "" {
		return nil, fmt.Errorf("not a barman backup.info (no status, no begin_xlog)")
	}
	return kv, sc.Err()
}

// barmanTime reads backup.info's times ("2026-12-02 07:01:02.123456+00:00").
func barmanTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999-07:00", "2006-01-02 15:04:05-07:00", "2006-01-02 15:04:05.999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable time %q", s)
}

// walSuffixes are the compressions barman-cloud-wal-archive writes; only gzip and bzip2 are
// read here (the others' headers are left to recovery).
var walSuffixes = []string{".gz", ".bz2", ".snappy", ".lz4", ".xz", ".zst"}

// preflightBarman reads the store: the backups and their backup.info, the newest complete one
// before the target, its age, the WAL's continuity from its start along the timelines, each
// segment's header, and how far behind the newest archived WAL is.
func preflightBarman(ctx context.Context, b *BarmanCloud, o Options) (*barmanSet, string, error) {
	bucket, prefix, err := b.bucketPrefix()
	if err != nil {
		return nil, "", err
	}
	where := "s3://" + bucket + "/" + prefix
	objs, err := b.Client.List(ctx, bucket, prefix+"base/")
	if err != nil {
		return nil, "", err
	}
	ids := map[string]bool{}
	infos := map[string]bool{}
	for _, obj := range objs {
		rest := strings.TrimPrefix(obj.Key, prefix+"base/")
		id, file, ok := strings.Cut(rest, "/")
		if !ok {
			continue
		}
		ids[id] = true
		if file == "backup.info" {
			infos[id] = true
		}
	}
	if len(ids) == 0 {
		return nil, "", fmt.Errorf("no base backup under %sbase/: check --barman-cloud and --server-name (barman-cloud-backup's destination and server name)", where)
	}
	var sorted []string
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted) // barman's IDs are times, YYYYMMDDTHHMMSS
	newest := sorted[len(sorted)-1]
	if !infos[newest] {
		return nil, "", fmt.Errorf("the newest backup, %sbase/%s/, has no backup.info (barman-cloud-backup writes it last): it did not finish or its record was lost; nothing proves its files are a backup — take a new one (or remove it to drill the one before)", where, newest)
	}
	// The newest complete backup that ended before the target.
	var set *barmanSet
	for i := len(sorted) - 1; i >= 0 && set == nil; i-- {
		id := sorted[i]
		if !infos[id] {
			continue
		}
		data, err := b.Client.Get(ctx, bucket, prefix+"base/"+id+"/backup.info")
		if err != nil {
			return nil, "", err
		}
		kv, err := parseBackupInfo(data)
		if err != nil {
			return nil, "", fmt.Errorf("%sbase/%s/backup.info: %w", where, id, err)
		}
		if kv["status"] != "DONE" {
			continue
		}
		s := &barmanSet{ID: id}
		if s.Begin, err = barmanTime(kv["begin_time"]); err == nil {
			s.End, err = barmanTime(kv["end_time"])
		}
		if err == nil {
			s.BeginLSN, err = ParseLSN(kv["begin_xlog"])
		}
		if err != nil {
			return nil, "", fmt.Errorf("%sbase/%s/backup.info: %w", where, id, err)
		}
		tli, _ := strconv.ParseUint(kv["timeline"], 10, 32)
		s.Timeline = uint32(max(tli, 1))
		v, _ := strconv.Atoi(kv["version"])
		s.Version = v / 10000
		s.SegSize, _ = strconv.ParseInt(kv["xlog_segment_size"], 10, 64)
		if s.SegSize <= 0 {
			s.SegSize = 16 << 20
		}
		s.SystemID, _ = strconv.ParseUint(kv["systemid"], 10, 64)
		if !o.Target.IsZero() && o.Target.Before(s.End) {
			continue
		}
		set = s
	}
	if set == nil {
		return nil, "", fmt.Errorf("no complete backup (status DONE) under %sbase/ ended before the target: pick a later target", where)
	}
	if o.MaxAge > 0 && o.Now().Sub(set.Begin) > o.MaxAge {
		return set, "", fmt.Errorf("the backup %s started %s ago, beyond --max-age %s: the recovery-point objective is not met", set.ID, o.Now().Sub(set.Begin).Round(time.Minute), o.MaxAge)
	}

	// The WAL: names from the listing, histories read, continuity from the backup's start.
	wals, err := b.Client.List(ctx, bucket, prefix+"wals/")
	if err != nil {
		return set, "", err
	}
	a := &Archive{Dir: where + "wals", SegmentSize: set.SegSize, Segments: map[uint32][]uint64{}, Histories: map[uint32][]HistoryEntry{}}
	keys := map[Segment]s3.Object{}
	var newestObj s3.Object
	for _, obj := range wals {
		name := path.Base(obj.Key)
		for _, suf := range walSuffixes {
			name = strings.TrimSuffix(name, suf)
		}
		switch {
		case strings.HasSuffix(name, ".history") && len(name) == 16:
			tli, err := strconv.ParseUint(name[:8], 16, 32)
			if err != nil {
				continue
			}
			data, err := b.getWAL(ctx, bucket, obj.Key)
			if err != nil {
				return set, "", err
			}
			h, err := parseHistory(bytes.NewReader(data))
			if err != nil {
				return set, "", fmt.Errorf("%s: %w", obj.Key, err)
			}
			a.Histories[uint32(tli)] = h
		case len(name) == 24:
			if s, ok := parseSegmentName(name, a.SegmentSize); ok {
				a.Segments[s.Timeline] = append(a.Segments[s.Timeline], s.No)
				keys[s] = obj
				// The store's times are to the second: the later name breaks a tie.
				if obj.LastModified.After(newestObj.LastModified) || obj.LastModified.Equal(newestObj.LastModified) && obj.Key > newestObj.Key {
					newestObj = obj
				}
			}
		}
	}
	for t := range a.Segments {
		sort.Slice(a.Segments[t], func(i, j int) bool { return a.Segments[t][i] < a.Segments[t][j] })
	}
	if len(keys) == 0 {
		return set, "", fmt.Errorf("no WAL under %swals/: is archive_command barman-cloud-wal-archive with the same destination and server name?", where)
	}
	set.NewestWAL = path.Base(newestObj.Key)
	set.Lag = max(o.Now().Sub(newestObj.LastModified), 0)
	latest := a.Latest()
	if !a.Descends(latest, set.Timeline, set.BeginLSN) {
		return set, "", fmt.Errorf("the store's newest timeline %d does not descend from the backup's timeline %d after its start %s: WAL from another cluster or an older failover", latest, set.Timeline, set.BeginLSN)
	}
	gap, last := a.Continuity(set.BeginLSN, set.Timeline, latest)
	if gap != nil {
		return set, "", fmt.Errorf("WAL segment %s (timeline %d) is missing from %swals/: recovery cannot go past it", gap.Segment, gap.Timeline, where)
	}
	// Each segment recovery reads: its header names this cluster, its timeline and position.
	first := uint64(set.BeginLSN) / uint64(a.SegmentSize)
	checked, unread := 0, 0
	for seg, obj := range keys {
		if seg.No < first && seg.Timeline == set.Timeline {
			continue
		}
		hb, err := b.walHeader(ctx, bucket, obj.Key)
		if errors.Is(err, errCompressed) {
			unread++
			continue
		}
		if err != nil {
			return set, "", err
		}
		h, err := parseSegmentHeader(hb)
		name := seg.Name(a.SegmentSize)
		switch {
		case err == nil && (h.Magic < 0xD000 || h.Magic > 0xD1FF): // 0xD10D is 13's, 0xD118 18's
			err = fmt.Errorf("%w: magic 0x%04X is no PostgreSQL WAL page's", ErrBadHeader, h.Magic)
			fallthrough
		case err != nil:
			return set, "", fmt.Errorf("WAL segment %s in the store: %w (a corrupted or overwritten object; restore it from another copy, or take a new base backup after it)", name, err)
		case set.SystemID != 0 && h.SystemID != set.SystemID:
			return set, "", fmt.Errorf("WAL segment %s in the store belongs to another cluster (system identifier %d, the backup's is %d)", name, h.SystemID, set.SystemID)
		case h.Timeline != seg.Timeline || uint64(h.PageAddr) != seg.No*uint64(a.SegmentSize):
			return set, "", fmt.Errorf("WAL segment %s in the store: its header says timeline %d at %s: a corrupted or renamed object", name, h.Timeline, h.PageAddr)
		}
		checked++
	}
	detail := fmt.Sprintf("PostgreSQL %d barman-cloud backup %s started %s on timeline %d at %s, ended %s; WAL continuous from %s to %s (timeline %d) in %swals/, the header of each of %d segments checked",
		set.Version, set.ID, set.Begin.UTC().Format(time.RFC3339), set.Timeline, set.BeginLSN, set.End.UTC().Format(time.RFC3339),
		Segment{set.Timeline, first}.Name(a.SegmentSize), last.Name(a.SegmentSize), latest, where, checked)
	if unread > 0 {
		detail += fmt.Sprintf(" (%d compressed with a codec pgtune does not read: left to recovery)", unread)
	}
	detail += fmt.Sprintf("; newest archived WAL %s, %s ago", set.NewestWAL, set.Lag.Round(time.Second))
	return set, detail, nil
}

var errCompressed = errors.New("compressed with a codec pgtune does not read")

// walHeader is a segment's long page header (40 bytes): a ranged read of an uncompressed object,
// else the object decompressed (its compressed size is what the store holds anyway).
func (b *BarmanCloud) walHeader(ctx context.Context, bucket, key string) ([]byte, error) {
	for _, suf := range walSuffixes {
		if strings.HasSuffix(key, suf) {
			return b.getWAL(ctx, bucket, key)
		}
	}
	return b.Client.GetHead(ctx, bucket, key, 40)
}

// getWAL reads a WAL object whole, decompressed.
func (b *BarmanCloud) getWAL(ctx context.Context, bucket, key string) ([]byte, error) {
	data, err := b.Client.Get(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	return decompress(key, data)
}

func decompress(key string, data []byte) ([]byte, error) {
	var r io.Reader
	switch {
	case strings.HasSuffix(key, ".gz"):
		z, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		r = z
	case strings.HasSuffix(key, ".bz2"):
		r = bzip2.NewReader(bytes.NewReader(data))
	default:
		for _, suf := range walSuffixes {
			if strings.HasSuffix(key, suf) {
				return nil, errCompressed
			}
		}
		return data, nil
	}
	out, err := io.ReadAll(io.LimitReader(r, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return out, nil
}

// restore runs barman-cloud-restore into dataDir, as the scratch server's user.
func (b *BarmanCloud) restore(ctx context.Context, set *barmanSet, dataDir string, cred *syscall.Credential) error {
	args := append(b.toolArgs(), b.URL, b.Server, set.ID, dataDir)
	c := exec.CommandContext(ctx, b.tool("barman-cloud-restore"), args...)
	c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("barman-cloud-restore %s: %w: %s", set.ID, err, tail(strings.TrimSpace(string(out)), 3))
	}
	return nil
}
