package pitr

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// LSN is a WAL location.
type LSN uint64

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint32(l)) }

// ParseLSN reads "0/2000028".
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("%q is not an LSN", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%q is not an LSN", s)
	}
	return LSN(h<<32 | l), nil
}

// Segment is one WAL segment file in the archive.
type Segment struct {
	Timeline uint32
	No       uint64 // segment number: LSN / segment size
}

// segmentsPerXLogID is how many segments of size segSize make up one "xlogid" (4GB).
func segmentsPerXLogID(segSize int64) uint64 { return uint64(0x100000000 / segSize) }

// Name is the segment's file name.
func (s Segment) Name(segSize int64) string {
	per := segmentsPerXLogID(segSize)
	return fmt.Sprintf("%08X%08X%08X", s.Timeline, s.No/per, s.No%per)
}

// parseSegmentName reads a 24-hex-digit segment file name.
func parseSegmentName(name string, segSize int64) (Segment, bool) {
	if len(name) != 24 {
		return Segment{}, false
	}
	tli, err1 := strconv.ParseUint(name[:8], 16, 32)
	hi, err2 := strconv.ParseUint(name[8:16], 16, 32)
	lo, err3 := strconv.ParseUint(name[16:], 16, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return Segment{}, false
	}
	return Segment{Timeline: uint32(tli), No: hi*segmentsPerXLogID(segSize) + lo}, true
}

// HistoryEntry is one line of a timeline history file: the parent timeline and where the child
// switched off it.
type HistoryEntry struct {
	Parent uint32
	Switch LSN
}

// Archive is what a WAL archive directory holds.
type Archive struct {
	Dir         string
	SegmentSize int64
	// Segments by timeline, sorted.
	Segments map[uint32][]uint64
	// Histories by timeline (timeline 1 has none).
	Histories map[uint32][]HistoryEntry
}

// ReadArchive lists a WAL archive. The segment size is that of the segment files (all equal).
func ReadArchive(dir string) (*Archive, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	a := &Archive{Dir: dir, Segments: map[uint32][]uint64{}, Histories: map[uint32][]HistoryEntry{}}
	for _, e := range entries {
		name := e.Name()
		if len(name) == 24 && a.SegmentSize == 0 {
			if info, err := e.Info(); err == nil && info.Size() > 0 && info.Size()&(info.Size()-1) == 0 {
				a.SegmentSize = info.Size()
			}
		}
	}
	if a.SegmentSize == 0 {
		return nil, fmt.Errorf("no WAL segment files in %s", dir)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".history") && len(name) == 16:
			tli, err := strconv.ParseUint(name[:8], 16, 32)
			if err != nil {
				continue
			}
			h, err := readHistory(filepath.Join(dir, name))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			a.Histories[uint32(tli)] = h
		case len(name) == 24:
			if s, ok := parseSegmentName(name, a.SegmentSize); ok {
				a.Segments[s.Timeline] = append(a.Segments[s.Timeline], s.No)
			}
		}
	}
	for t := range a.Segments {
		sort.Slice(a.Segments[t], func(i, j int) bool { return a.Segments[t][i] < a.Segments[t][j] })
	}
	return a, nil
}

func readHistory(path string) ([]HistoryEntry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseHistory(bytes.NewReader(data))
}

// parseHistory reads a timeline history file's lines.
func parseHistory(r io.Reader) ([]HistoryEntry, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var out []HistoryEntry
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		tli, err := strconv.ParseUint(f[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("line %q: not a timeline", line)
		}
		lsn, err := ParseLSN(f[1])
		if err != nil {
			return nil, err
		}
		out = append(out, HistoryEntry{Parent: uint32(tli), Switch: lsn})
	}
	return out, nil
}

// Latest is the highest timeline with segments or a history file.
func (a *Archive) Latest() uint32 {
	var latest uint32
	for t := range a.Segments {
		latest = max(latest, t)
	}
	for t := range a.Histories {
		latest = max(latest, t)
	}
	return latest
}

// Descends reports whether timeline t is base or was forked (directly or not) from base after
// from: recovery from a backup on base can follow it.
func (a *Archive) Descends(t, base uint32, from LSN) bool {
	if t == base {
		return true
	}
	for _, h := range a.Histories[t] {
		if h.Parent == base {
			return h.Switch >= from
		}
	}
	return false
}

// Path is the timeline each segment from start on is read from when recovering towards the
// target timeline: the parent's segments up to each switch point, then the child's.
func (a *Archive) Path(base uint32, target uint32) []HistoryEntry {
	// The target's history lists its ancestors oldest first, each with where its child forked.
	path := slices.Clone(a.Histories[target])
	path = append(path, HistoryEntry{Parent: target, Switch: LSN(^uint64(0))})
	// Drop ancestors before the base timeline.
	for i, h := range path {
		if h.Parent == base {
			return path[i:]
		}
	}
	return path
}

// Gap is a segment recovery needs that the archive does not hold.
type Gap struct {
	Timeline uint32
	Segment  string
}

// Continuity walks from the backup's start segment along the timeline path to the newest
// segment of the target timeline: each ancestor's segments up to (not including) the segment its
// child forked in, which the child holds. It returns the first missing segment (nil when none)
// and the last segment present.
func (a *Archive) Continuity(start LSN, base, target uint32) (*Gap, Segment) {
	have := map[Segment]bool{}
	for t, nos := range a.Segments {
		for _, n := range nos {
			have[Segment{t, n}] = true
		}
	}
	path := a.Path(base, target)
	seg := uint64(start) / uint64(a.SegmentSize)
	var last Segment
	for i, h := range path {
		var end uint64
		if i == len(path)-1 {
			end = maxSeg(a.Segments[h.Parent])
			if len(a.Segments[h.Parent]) == 0 || end < seg {
				return nil, last
			}
		} else {
			switchSeg := uint64(h.Switch) / uint64(a.SegmentSize)
			if switchSeg == 0 {
				continue
			}
			end = switchSeg - 1
		}
		for ; seg <= end; seg++ {
			s := Segment{h.Parent, seg}
			if !have[s] {
				return &Gap{Timeline: h.Parent, Segment: s.Name(a.SegmentSize)}, last
			}
			last = s
		}
	}
	return nil, last
}

func maxSeg(nos []uint64) uint64 {
	if len(nos) == 0 {
		return 0
	}
	return nos[len(nos)-1]
}

// SegmentHeader is what the long page header at the start of a segment file says.
type SegmentHeader struct {
	Magic    uint16
	Timeline uint32
	PageAddr LSN
	SystemID uint64
	SegSize  uint32
}

// ErrBadHeader means a segment file does not start with a valid long page header.
var ErrBadHeader = errors.New("not a valid WAL segment header")

// ReadSegmentHeader reads a segment file's long page header (XLogLongPageHeaderData).
func ReadSegmentHeader(path string) (SegmentHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return SegmentHeader{}, err
	}
	defer f.Close()
	var b [40]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return SegmentHeader{}, fmt.Errorf("%w: %w", ErrBadHeader, err)
	}
	return parseSegmentHeader(b[:])
}

// parseSegmentHeader reads the long page header from a segment's first bytes.
func parseSegmentHeader(b []byte) (SegmentHeader, error) {
	if len(b) < 40 {
		return SegmentHeader{}, fmt.Errorf("%w: %d bytes", ErrBadHeader, len(b))
	}
	le := binary.LittleEndian
	h := SegmentHeader{Magic: le.Uint16(b[0:]), Timeline: le.Uint32(b[4:]), PageAddr: LSN(le.Uint64(b[8:])),
		SystemID: le.Uint64(b[24:]), SegSize: le.Uint32(b[32:])}
	if le.Uint16(b[2:])&0x0002 == 0 { // XLP_LONG_HEADER
		return h, fmt.Errorf("%w: no long header flag", ErrBadHeader)
	}
	return h, nil
}

// PageError is a damaged page of a WAL segment: where, and what is wrong with its header.
type PageError struct {
	Segment  string
	Offset   int64
	PageSize int64
	What     string
}

func (e *PageError) Error() string {
	return fmt.Sprintf("WAL segment %s is damaged at offset %d (page %d): %s", e.Segment, e.Offset, e.Offset/walPageSize(uint32(e.PageSize)), e.What)
}

// walPageSize is XLOG_BLCKSZ as the long header gives it (8kB, PostgreSQL's default, when 0).
func walPageSize(fromHeader uint32) int64 {
	if fromHeader == 0 {
		return 8192
	}
	return int64(fromHeader)
}

// CheckPages reads a whole segment and checks every page's header: the magic of the segment's
// first page (one server version wrote it), flags PostgreSQL knows, the page's own address, and a
// timeline among allowed (the segment's and its ancestors': a new timeline's first segment is a
// copy of its parent's up to the switch), never going back. Pages of zeros may only end a
// segment (the rest of a segment closed early by a switch or archive_timeout). Recovery reads
// only the pages it needs, so a page damaged before a backup's redo point goes unseen by any
// drill of that backup, yet breaks every restore to an earlier point: this finds it.
func CheckPages(path string, seg Segment, segSize int64, allowed map[uint32]bool) error {
	name := seg.Name(segSize)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h, err := ReadSegmentHeader(path)
	if err != nil {
		return &PageError{Segment: name, What: err.Error()}
	}
	var b [40]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return &PageError{Segment: name, What: err.Error()}
	}
	pageSize := walPageSize(binary.LittleEndian.Uint32(b[36:]))
	if pageSize < 1024 || pageSize > 65536 || pageSize&(pageSize-1) != 0 || segSize%pageSize != 0 {
		return &PageError{Segment: name, What: fmt.Sprintf("the long header's page size %d is not one PostgreSQL builds", pageSize)}
	}
	page := make([]byte, pageSize)
	start := seg.No * uint64(segSize)
	le := binary.LittleEndian
	var lastTLI uint32
	zeros := false
	for off := int64(0); off < segSize; off += pageSize {
		if _, err := io.ReadFull(f, page); err != nil {
			return &PageError{Segment: name, Offset: off, PageSize: pageSize, What: fmt.Sprintf("the file ends early (%v)", err)}
		}
		if allZero(page) {
			zeros = true
			continue
		}
		bad := func(format string, a ...any) error {
			return &PageError{Segment: name, Offset: off, PageSize: pageSize, What: fmt.Sprintf(format, a...)}
		}
		magic, info, tli, addr := le.Uint16(page[0:]), le.Uint16(page[2:]), le.Uint32(page[4:]), le.Uint64(page[8:])
		switch {
		case zeros:
			return bad("a page after pages of zeros (the segment's end) holds data")
		case magic != h.Magic:
			return bad("page magic %#04x, the segment's is %#04x", magic, h.Magic)
		case info&^0x0007 != 0:
			return bad("page flags %#04x are not PostgreSQL's", info)
		case addr != start+uint64(off):
			return bad("the page says it is at %s, it is at %s", LSN(addr), LSN(start+uint64(off)))
		case !allowed[tli] || tli < lastTLI:
			return bad("page timeline %d on a segment of timeline %d", tli, seg.Timeline)
		}
		lastTLI = tli
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Ancestry is a timeline and every timeline it descends from.
func (a *Archive) Ancestry(t uint32) map[uint32]bool {
	out := map[uint32]bool{t: true}
	for _, h := range a.Histories[t] {
		out[h.Parent] = true
	}
	return out
}

// BackupHistoryName is the name of the history file pg_backup_stop archives for a backup that
// started at start on timeline tli: its first segment and the start's offset in it.
func BackupHistoryName(tli uint32, start LSN, segSize int64) string {
	return fmt.Sprintf("%s.%08X.backup", Segment{tli, uint64(start) / uint64(segSize)}.Name(segSize), uint64(start)%uint64(segSize))
}

// BackupStop reads when and where a backup ended from its history file in the archive (STOP
// TIME, to the second, and STOP WAL LOCATION): the backup's own record, which copies do not
// change as they change file times. ok is false when the archive has no such file (a backup taken
// from a standby writes none, and an archive cleaned up may have lost it).
func (a *Archive) BackupStop(tli uint32, start LSN) (stop time.Time, stopLSN LSN, name string, ok bool, err error) {
	name = BackupHistoryName(tli, start, a.SegmentSize)
	f, err := os.Open(filepath.Join(a.Dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, 0, name, false, nil
	}
	if err != nil {
		return time.Time{}, 0, name, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		switch k {
		case "STOP TIME":
			if stop, err = parsePGTime(strings.TrimSpace(v)); err != nil {
				return time.Time{}, 0, name, false, fmt.Errorf("%s: %w", name, err)
			}
		case "STOP WAL LOCATION":
			if fields := strings.Fields(v); len(fields) > 0 {
				if stopLSN, err = ParseLSN(fields[0]); err != nil {
					return time.Time{}, 0, name, false, fmt.Errorf("%s: %w", name, err)
				}
			}
		}
	}
	if stop.IsZero() {
		return time.Time{}, 0, name, false, fmt.Errorf("%s has no STOP TIME: not a backup history file", name)
	}
	return stop, stopLSN, name, true, sc.Err()
}
